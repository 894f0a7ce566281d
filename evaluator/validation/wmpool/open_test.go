package wmpool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/objects"
)

// Sources open the model, its perturbed draws with the draw seeds asked
// for, the judge and the arm with its seeded copies; a bad source fails
// with the flag it came from.
func TestSourcesOpen(t *testing.T) {
	// A backend that opens the committed model but declares no draws.
	worldmodel.Register("wmpool-test-nodraws", func(context.Context, worldmodel.Options) (worldmodel.Model, error) {
		return objects.Load("../../../checkpoints/pusht-objects")
	})
	ok := Sources{Backend: objects.Name, Options: worldmodel.Options{"checkpoint": "../../../checkpoints/pusht-objects"},
		ModelDraws: 2, FirstDrawSeed: 3, DrawNoise: 0.3, Judge: judge.PushTName, Arm: "scripted-q3", ArmDraws: 1}
	tests := []struct {
		name    string
		edit    func(*Sources)
		wantErr string
		wantIs  error
	}{
		{name: "all", edit: func(*Sources) {}},
		{name: "draw seed 0 is the model", edit: func(s *Sources) { s.FirstDrawSeed = 0 }, wantErr: "--wm-draw-seed 0"},
		{name: "a backend without draws", edit: func(s *Sources) { s.Backend = "wmpool-test-nodraws" },
			wantErr: "--wm-draws: draw 3", wantIs: worldmodel.ErrNoDraws},
		{name: "an unknown judge", edit: func(s *Sources) { s.Judge = "nosuch" }, wantIs: judge.ErrUnknownJudge},
		{name: "an unknown arm", edit: func(s *Sources) { s.Arm = "nosuch" }, wantErr: "nosuch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			var cfg Config
			err := s.Open(context.Background(), &cfg)
			if tc.wantErr == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Model == nil || cfg.ModelName != objects.Name || len(cfg.ModelDraws) != 2 || !slices.Equal(cfg.DrawSeeds, []int{3, 4}) ||
					cfg.Judge == nil || cfg.Arm != "scripted-q3" || cfg.Policy == nil || len(cfg.Draws) != 1 {
					t.Fatalf("opened %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Fatalf("err = %v, want one saying %q (%v)", err, tc.wantErr, tc.wantIs)
			}
		})
	}
}

func TestSaveBatch(t *testing.T) {
	dir := t.TempDir()
	pool, stats := filepath.Join(dir, "pool.json"), filepath.Join(dir, "stats.json")
	p := validation.Pool{Name: "p", FeatureNames: []string{"f"}, Records: []validation.Record{{Real: 1, Features: []float64{1}}}}
	if err := SaveBatch(pool, stats)(p, Stats{RealSeconds: 1}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{pool, stats} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
	if err := SaveBatch(filepath.Join(dir, "only.json"), "")(p, Stats{}); err != nil {
		t.Fatal(err)
	}
}
