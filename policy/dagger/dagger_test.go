package dagger

import (
	"context"
	"dreamrank/policy/flow"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// tiny is a run of two rounds on two seeds with a tiny head.
func tiny(out string) Config {
	c := DefaultConfig()
	c.Train.OutDir = out
	c.Train.Model.Hidden, c.Train.Model.Layers = 16, 2
	c.Train.HeadSteps, c.Train.HeadBatch, c.Train.CheckpointEvery = 4, 8, 2
	c.Rounds, c.Seeds, c.EvalSeeds, c.Execute = 2, 2, 1, 8
	return c
}

// TestRun runs two rounds, then runs again: the second run finds every
// round done and neither rolls out nor trains again.
func TestRun(t *testing.T) {
	ctx := context.Background()
	cfg := tiny(t.TempDir())
	st, err := Run(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rounds) != 2 {
		t.Fatalf("%d rounds, want 2", len(st.Rounds))
	}
	r0, r1 := st.Rounds[0], st.Rounds[1]
	if r0.Behavior != "expert" || r0.RolloutSuccess != 1 || r0.Labelled == 0 {
		t.Errorf("round 0 %+v: want the expert's successful rollouts, labelled", r0)
	}
	if r1.Behavior != r0.Checkpoint || r1.Labelled == 0 || r1.Total != r0.Labelled+r1.Labelled {
		t.Errorf("round 1 %+v: want round 0's checkpoint rolled out and its labels added", r1)
	}
	if r1.Eval == nil || r1.Eval.Episodes != 1 {
		t.Errorf("round 1 eval %+v, want one held-out episode", r1.Eval)
	}
	labels := filepath.Join(cfg.Train.OutDir, "round-01.labels.json.gz")
	before, err := os.Stat(labels)
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	st2, err := Run(ctx, cfg, func(p Progress) {
		if p.Phase == "collect" || p.Phase == "eval" || (p.Train != nil && p.Train.Stage != "") {
			phases = append(phases, p.Phase)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(labels)
	if err != nil {
		t.Fatal(err)
	}
	if len(phases) > 0 || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("resumed run redid work: phases %v, labels rewritten %v", phases, !after.ModTime().Equal(before.ModTime()))
	}
	if st2.Rounds[1].Checkpoint != r1.Checkpoint {
		t.Errorf("resumed checkpoint %q, want %q", st2.Rounds[1].Checkpoint, r1.Checkpoint)
	}
	p, err := flow.Load(r1.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Spec().Execute; got != cfg.Execute {
		t.Errorf("checkpoint's spec executes %d actions per chunk, want the rollouts' %d", got, cfg.Execute)
	}

	warm := tiny(t.TempDir())
	warm.Rounds, warm.FirstSeed, warm.Warm = 1, cfg.FirstSeed+100, []string{cfg.Train.OutDir}
	st3, err := Run(ctx, warm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := st3.Rounds[0]; w.Total != r1.Total+w.Labelled {
		t.Errorf("warm round 0 trained on %d labels, want the earlier run's %d and its own %d", w.Total, r1.Total, w.Labelled)
	}
	// Resuming with another warm directory: the new one counts, not the
	// one saved in dagger.json.
	warm.Warm = []string{t.TempDir()}
	if _, err := Run(ctx, warm, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("warm from a directory without labels: %v, want ErrConfig", err)
	}
}

func TestConfigSeeds(t *testing.T) {
	tests := []struct {
		name string
		mut  func(*Config)
	}{
		{"rollouts on the test seeds", func(c *Config) { c.FirstSeed = 99997 }},
		{"evaluation on the test seeds", func(c *Config) { c.EvalFirstSeed = 100049 }},
		{"rollouts on fresh seeds", func(c *Config) { c.FirstSeed = 299998 }},
		{"the conv encoder", func(c *Config) { c.Train.Model.Encoder = "" }},
		{"no contexts", func(c *Config) { c.Contexts = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tiny(t.TempDir())
			tt.mut(&c)
			if err := c.validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("validate: %v, want ErrConfig", err)
			}
		})
	}
	if err := tiny(t.TempDir()).validate(); err != nil {
		t.Errorf("the tiny run: %v", err)
	}
}
