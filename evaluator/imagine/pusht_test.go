package imagine

import (
	"context"
	"reflect"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/policy/scripted"
	"dreamrank/worldmodel/latent"
)

// TestPushTRolloutIsReproducible runs the real stack (the scripted policy,
// the committed world model, the PushT vision judge) on two seeds twice.
func TestPushTRolloutIsReproducible(t *testing.T) {
	ctx := context.Background()
	m, err := latent.Load("../../checkpoints/pusht-wm")
	if err != nil {
		t.Fatal(err)
	}
	p, err := scripted.New(scripted.Config{Quality: 5})
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Open(ctx, judge.PushTName, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := Unit{Arm: "scripted-q5", Seeds: []int64{100000, 100001}, Horizon: 16, KeepFrames: true}
	a, err := Run(ctx, u, p, m, j, PushTStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(ctx, u, p, m, j, PushTStart, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range a.Outcomes {
		if o.Steps != 16 || len(o.Frames) != 17 {
			t.Errorf("seed %d: %d steps, %d frames", o.Seed, o.Steps, len(o.Frames))
		}
		if !reflect.DeepEqual(o.Result, b.Outcomes[i].Result) || !reflect.DeepEqual(o.Frames, b.Outcomes[i].Frames) {
			t.Errorf("seed %d: two runs differ: %+v vs %+v", o.Seed, o.Result, b.Outcomes[i].Result)
		}
	}
}
