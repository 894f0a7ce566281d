package split

import (
	"context"
	"strings"
	"testing"

	"dreamrank/foundation/episode"
)

func TestHeldOut(t *testing.T) {
	seed := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		meta episode.Meta
		want bool
	}{
		{"human index 0", episode.Meta{Source: HumanSource, Extra: map[string]string{"episode_index": "0"}}, true},
		{"human index 130", episode.Meta{Source: HumanSource, Extra: map[string]string{"episode_index": "130"}}, true},
		{"human index 131", episode.Meta{Source: HumanSource, Extra: map[string]string{"episode_index": "131"}}, false},
		{"sim seed 100", episode.Meta{Source: "sim", Seed: seed(100)}, true},
		{"sim seed 101", episode.Meta{Source: "sim", Seed: seed(101)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsHeldOut(tc.meta); got != tc.want {
				t.Fatalf("IsHeldOut = %v, want %v", got, tc.want)
			}
		})
	}
	if got := HeldOut([]episode.Meta{tests[0].meta, tests[2].meta, tests[3].meta}); len(got) != 2 {
		t.Fatalf("HeldOut kept %d, want 2", len(got))
	}
}

// A store without held-out episodes says how to get some.
func TestLoadHeldOutEmpty(t *testing.T) {
	_, err := LoadHeldOut(context.Background(), t.TempDir(), true, 0)
	if err == nil || !strings.Contains(err.Error(), "dataset import") {
		t.Fatalf("err = %v, want the hint to import the demonstrations", err)
	}
}
