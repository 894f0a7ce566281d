package overlap_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"dreamrank/evaluator/judge/overlap"
	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
)

// TestAgainstPushL reads coverage from rendered PushL frames of block poses
// scattered around the goal (coverage 0 to 1) and compares it with the
// simulator's exact coverage. The error is a pixel count's: about one 5 px
// pixel row along the covered region's boundary, slightly positive because
// the renderer's polygons include their boundary pixels.
func TestAgainstPushL(t *testing.T) {
	const size = pushl.ObsSize
	spec := overlap.Spec{Object: overlap.Colour(pushl.BlockColour), Target: overlap.Colour(pushl.TargetColour)}
	ref, err := pushl.RenderTarget(size)
	if err != nil {
		t.Fatal(err)
	}
	mask, err := overlap.TargetMask(spec, overlap.Frame{Pix: ref, W: size, H: size})
	if err != nil {
		t.Fatal(err)
	}
	area := pushl.Area * size * size / 512.0 / 512.0
	if math.Abs(float64(mask.Len())-area) > 0.05*area {
		t.Errorf("target region %d px, its area is %.1f px", mask.Len(), area)
	}
	r := rand.New(rand.NewPCG(1, 1))
	var errs []float64
	var bias float64
	for range 200 {
		s := 60 * r.Float64() * r.Float64() // most poses near the goal
		g := pushl.Goal
		block := pusht.Pose{X: g.X + s*(2*r.Float64()-1), Y: g.Y + s*(2*r.Float64()-1), Angle: g.Angle + s/60*(2*r.Float64()-1)}
		img, err := pushl.RenderState(pusht.Vec2{X: 60, Y: 60}, block, size)
		if err != nil {
			t.Fatal(err)
		}
		got, err := overlap.Coverage(spec, overlap.Frame{Pix: img, W: size, H: size}, mask)
		if err != nil {
			t.Fatal(err)
		}
		d := got - pushl.Coverage(block)
		errs, bias = append(errs, math.Abs(d)), bias+d
	}
	slices.Sort(errs)
	mae := 0.0
	for _, e := range errs {
		mae += e
	}
	mae /= float64(len(errs))
	p95, worst := errs[len(errs)*95/100], errs[len(errs)-1]
	t.Logf("coverage error over %d frames: MAE %.4f, p95 %.4f, max %.4f, bias %+.4f", len(errs), mae, p95, worst, bias/float64(len(errs)))
	if mae > 0.02 || p95 > 0.04 || worst > 0.08 {
		t.Errorf("coverage error MAE %.4f, p95 %.4f, max %.4f; want at most 0.02, 0.04, 0.08", mae, p95, worst)
	}
}
