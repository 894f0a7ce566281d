package scenarios

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name      string
		wantErr   error
		wantFirst int64
		wantTests int
	}{
		{name: "pusht", wantFirst: 100000, wantTests: 50},
		{name: "pushl", wantFirst: 100000, wantTests: 50},
		{name: "nope", wantErr: ErrUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Lookup(tt.name)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(s.TestSeeds) != tt.wantTests || s.TestSeeds[0] != tt.wantFirst || s.TestSeeds[49] != 100049 {
				t.Fatalf("test seeds = %v", s.TestSeeds)
			}
			if len(s.TrainSeeds) != 6 || s.TrainSeeds[0] != 0 {
				t.Fatalf("train seeds = %v", s.TrainSeeds)
			}
		})
	}
}

func TestPushTDataset(t *testing.T) {
	t.Run("env overrides", func(t *testing.T) {
		t.Setenv(PushTDatasetEnv, "/some/where.zarr")
		if got := PushTDataset(); got != "/some/where.zarr" {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("beside the checkout", func(t *testing.T) {
		t.Setenv(PushTDatasetEnv, "")
		got := PushTDataset()
		want, _ := filepath.Abs(filepath.Join("..", "..", "shared", "data", "pusht", "pusht_cchi_v7_replay.zarr"))
		if got != want {
			t.Fatalf("got %s, want %s", got, want)
		}
	})
}
