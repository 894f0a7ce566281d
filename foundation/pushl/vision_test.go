package pushl

import (
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/pusht"
)

// The colour reader finds the block's pose in rendered frames to about a
// pixel and a degree, wherever it stands (over the target too) and however
// it is turned; with the block gone it reads nothing.
func TestReadFrame(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var worstPx, worstRad float64
	for i := range 60 {
		block := pusht.Pose{X: 120 + 270*rng.Float64(), Y: 120 + 270*rng.Float64(), Angle: 2 * math.Pi * rng.Float64()}
		if i%6 == 0 {
			block = pusht.Pose{X: Goal.X + 10*rng.NormFloat64(), Y: Goal.Y + 10*rng.NormFloat64(), Angle: math.Mod(Goal.Angle+2*math.Pi+0.2*rng.NormFloat64(), 2*math.Pi)}
		}
		frame, err := RenderState(pusht.Vec2{X: 40, Y: 470}, block, ObsSize)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := ReadFrame(frame, ObsSize)
		if !ok {
			t.Fatalf("pose %+v: not read", block)
		}
		worstPx = math.Max(worstPx, math.Hypot(got.X-block.X, got.Y-block.Y))
		worstRad = math.Max(worstRad, math.Abs(math.Remainder(got.Angle-block.Angle, 2*math.Pi)))
	}
	t.Logf("worst error %.2f table px, %.4f rad", worstPx, worstRad)
	// A frame pixel is 5.3 table px: the centre to about half a pixel.
	if worstPx > 3 || worstRad > 0.05 {
		t.Errorf("worst error %.2f table px, %.4f rad over 60 poses; want <= 3 px and 0.05 rad", worstPx, worstRad)
	}
	empty, err := RenderTarget(ObsSize)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := ReadFrame(empty, ObsSize); ok {
		t.Errorf("read a block %+v from a frame without one", p)
	}
}
