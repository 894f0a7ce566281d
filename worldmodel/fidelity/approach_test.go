package fidelity

import (
	"context"
	"math"
	"testing"

	"dreamrank/worldmodel/copylast"
)

func TestApproach(t *testing.T) {
	eps := testEpisodes(t)
	ctx := context.Background()
	replay, err := Approach(ctx, newOracle(eps, 0, 0), eps, nil)
	if err != nil {
		t.Fatal(err)
	}
	still, err := Approach(ctx, copylast.New(copylast.PushTSpec()), eps, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replay {
		// The real future read back: the very frame, no deficit.
		if r.Episodes == 0 || r.Unreadable != 0 || math.Abs(r.Deficit) > 1e-12 {
			t.Errorf("replay, horizon %d: %+v, want no deficit", r.Horizon, r)
		}
	}
	// A block that never moves falls short by what the last pushes won:
	// never ahead of the best moment (up to the reader's error), and by a
	// lot from 32 steps out.
	for _, r := range still {
		if r.Deficit < -0.01 {
			t.Errorf("copy-last, horizon %d: deficit %.4f, ahead of the best moment", r.Horizon, r.Deficit)
		}
	}
	if prev := still[len(still)-1].Deficit; prev < 0.05 {
		t.Errorf("copy-last deficit %.4f at horizon %d: the approach barely moves the block, the test exercises nothing", prev, still[len(still)-1].Horizon)
	}
}
