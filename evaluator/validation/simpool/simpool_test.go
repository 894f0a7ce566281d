package simpool

import (
	"context"
	"errors"
	"testing"

	"dreamrank/evaluator/validation"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

func TestPlay(t *testing.T) {
	in := scenarios.PushTSafety{}.Sample(3)
	ep, err := Play(context.Background(), pusht.New(pusht.Config{}), in, expert.Options{MaxSteps: 40})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Steps == 0 || ep.Steps > 40 {
		t.Fatalf("%d steps", ep.Steps)
	}
	if ep.Violated != (ep.MinClearance < 0) {
		t.Fatalf("violated %v with min clearance %g", ep.Violated, ep.MinClearance)
	}
}

// TestBuild: a pool too small for the harness is still returned, shaped,
// with the validation error.
func TestBuild(t *testing.T) {
	p, err := Build(context.Background(), Config{N: 2, FirstSeed: 5, Expert: expert.Options{MaxSteps: 30}})
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("err = %v, want ErrBadPool (too few records)", err)
	}
	if len(p.Records) != 2 {
		t.Fatalf("%d records", len(p.Records))
	}
	for i, r := range p.Records {
		if len(r.Features) != len(FeatureNames) || len(r.Critical) != len(scenarios.SafetyCriticalNames) {
			t.Fatalf("record %d: %+v", i, r)
		}
		if p.Strata.Stratum(r.Critical) < 0 {
			t.Fatalf("record %d outside the strata", i)
		}
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, Config{N: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestSimulator(t *testing.T) {
	sim := NewSimulator(map[string]expert.Options{"q5": {MaxSteps: 20}}, pusht.Config{})
	in := scenarios.PushTSafety{}.Sample(11)
	f, err := sim.Imagine(context.Background(), "q5", in)
	if err != nil || len(f) != len(FeatureNames) {
		t.Fatalf("features %v, %v", f, err)
	}
	if y, err := sim.Real(context.Background(), "q5", in); err != nil || (y != 0 && y != 1) {
		t.Fatalf("real %g, %v", y, err)
	}
	if _, err := sim.Real(context.Background(), "nope", in); err == nil {
		t.Fatal("unknown arm accepted")
	}
}
