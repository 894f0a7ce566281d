package flow

import (
	"testing"

	"dreamrank/foundation/pusht"
)

func BenchmarkPoseObs(b *testing.B) {
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100000)
	o := env.Observe()
	c := PoseModelConfig()
	dst := make([]float32, c.obsDim())
	for b.Loop() {
		if err := c.poseObs(dst, o.Image, []float32{1, 2}); err != nil {
			b.Fatal(err)
		}
	}
}
