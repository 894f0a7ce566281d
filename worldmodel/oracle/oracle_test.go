package oracle

import (
	"context"
	"math"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

func TestContract(t *testing.T) {
	m, err := worldmodel.Open(context.Background(), Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Contract(t, m)
}

// TestFollowsTheSimulator: started from a real frame, the oracle's block
// stays within a few table pixels of the simulator's under the same pushes
// (the gap is the pose reader's error, carried along).
func TestFollowsTheSimulator(t *testing.T) {
	ctx := context.Background()
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100003)
	o := env.Observe()
	c := []worldmodel.Observation{{Frame: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}}
	r, err := Model{}.Start(ctx, [][]worldmodel.Observation{c})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Drive the pusher straight through the block's centre.
	b := env.State().Block
	var acts [][]float32
	for k := range 20 {
		f := float64(k+1) / 20
		acts = append(acts, []float32{float32(o.Agent.X + f*(b.X-o.Agent.X)*1.5), float32(o.Agent.Y + f*(b.Y-o.Agent.Y)*1.5)})
	}
	pred, err := r.Step(ctx, [][][]float32{acts})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range acts {
		env.Step(pusht.Vec2{X: float64(a[0]), Y: float64(a[1])})
	}
	got, _, ok, _ := pusht.ReadPoses(pred[0][len(acts)-1].Frame, pusht.ObsSize)
	want := env.State().Block
	if !ok {
		t.Fatal("the oracle's last frame shows no block")
	}
	moved := math.Hypot(want.X-b.X, want.Y-b.Y)
	if d := math.Hypot(got.X-want.X, got.Y-want.Y); d > 5 || moved < 10 {
		t.Errorf("after 20 steps the block moved %.1f px; the oracle's is %.2f px from the simulator's (want under 5)", moved, d)
	}
}
