package pusht

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestTrack: reading a frame from the previous frame's pose lands where
// Read's search lands, for priors a frame's motion away and for wrong
// priors (which must fall back to the search, not lock onto a bad fit).
func TestTrack(t *testing.T) {
	tests := []struct {
		name string
		// offset moves the prior away from the true pose.
		offset Pose
	}{
		{"prior exact", Pose{}},
		{"prior one step behind", Pose{X: 4, Y: -3, Angle: 0.04}},
		{"prior a fast step behind", Pose{X: -12, Y: 9, Angle: -0.15}},
		{"prior turned half a turn", Pose{Angle: math.Pi}},
		{"prior far away", Pose{X: 150, Y: -120, Angle: 1}},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	var r PoseReader
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 20 {
				block := Pose{130 + rng.Float64()*252, 130 + rng.Float64()*252, rng.Float64() * 2 * math.Pi}
				agent := Vec2{20 + rng.Float64()*472, 20 + rng.Float64()*472}
				f := renderT(t, agent, block, ObsSize)
				want, err := r.Read(f, ObsSize)
				if err != nil {
					t.Fatal(err)
				}
				prior := Pose{block.X + tt.offset.X, block.Y + tt.offset.Y, block.Angle + tt.offset.Angle}
				got, err := r.Track(f, ObsSize, prior)
				if err != nil {
					t.Fatal(err)
				}
				if got.BlockOK != want.BlockOK {
					t.Fatalf("block %+v prior %+v: Track ok %v, Read ok %v", block, prior, got.BlockOK, want.BlockOK)
				}
				// Both end in the sharp fit's optimum, whose floor is
				// shallow at pixel scale: 10 iterations from two starts
				// stop up to a few tenths of a pixel apart (both read
				// clean renders within 0.8 px median of the truth); a wrong
				// optimum is pixels or a visible turn away.
				if d := math.Hypot(got.Block.X-want.Block.X, got.Block.Y-want.Block.Y); d > 0.5 || angleErr(got.Block.Angle, want.Block.Angle) > 0.01 {
					t.Errorf("block %+v prior %+v: Track %+v, Read %+v (%.3f px apart)", block, prior, got.Block, want.Block, d)
				}
			}
		})
	}
}
