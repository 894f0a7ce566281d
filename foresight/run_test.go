package foresight

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A no-teacher run on a tiny policy trains the adapter under its mode's
// name and writes the summary it returns; the base policy is a flow policy
// by zoo arm or checkpoint, nothing else.
func TestRunTrain(t *testing.T) {
	_, store, path := tinyPolicy(t, 6)
	cfg := tinyConfig()
	cfg.Mode, cfg.Steps = ModeNone, 4
	stages := 0
	r := Run{Policy: path, Data: store.Root(), Config: cfg, Command: "dreamrank test",
		Progress: func(string) (func(Progress), func()) { stages++; return func(Progress) {}, func() {} }}
	s, raw, err := r.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(path, AdaptersDir, "no-teacher")
	if s.Adapter != out || s.Policy != path || s.Mode != ModeNone || s.Teacher != "" || s.Params == 0 || s.Command != "dreamrank test" || stages != 1 {
		t.Errorf("summary %+v after %d stages", s, stages)
	}
	written, err := os.ReadFile(filepath.Join(out, "training.json"))
	if err != nil || string(written) != string(raw)+"\n" {
		t.Fatalf("training.json %q, %v", written, err)
	}
	var back Summary
	if err := json.Unmarshal(written, &back); err != nil || back.Adapter != out {
		t.Errorf("training.json reads back %+v, %v", back, err)
	}

	for _, tc := range []struct{ name, policy, want string }{
		{"a zoo arm of another backend", "scripted-q5", "want a flow policy"},
		{"neither arm nor directory", filepath.Join(t.TempDir(), "nosuch"), "neither a zoo arm nor a checkpoint directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := BasePolicy(context.Background(), tc.policy); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("BasePolicy(%q) = %v, want an error saying %q", tc.policy, err, tc.want)
			}
		})
	}
}

// TestStudy trains the study for one seed on a tiny policy: six adapters
// under their study names, then a second call finds them all trained.
func TestStudy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a teacher and six adapters")
	}
	_, store, path := tinyPolicy(t, 6)
	cfg := tinyConfig()
	cfg.Steps = 2
	base := Run{Policy: path, Data: store.Root(), Config: cfg}
	trained, skipped := map[string]bool{}, 0
	done := func(name string, s *Summary) {
		if s == nil {
			skipped++
			return
		}
		trained[name] = s.Adapter == filepath.Join(path, AdaptersDir, name)
	}
	if err := Study(context.Background(), base, []uint64{7}, done); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"foresight-s7", "shuffled-s7", "no-teacher-s7", "foresight-obs-s7", "shuffled-obs-s7", "no-teacher-obs-s7"} {
		if !trained[name] {
			t.Errorf("adapter %s not trained where its name says (%v)", name, trained)
		}
	}
	if err := Study(context.Background(), base, []uint64{7}, done); err != nil || skipped != 6 {
		t.Errorf("second study: %v, %d skipped, want all 6", err, skipped)
	}
}
