package episode

import (
	"math"
	"math/rand/v2"
	"time"
)

// makeEpisode builds a small valid episode with distinct, awkward values
// (negative zero, denormals, large numbers) to catch lossy storage.
func makeEpisode(t, h, w int, withGT, withRewards bool) *Episode {
	r := rand.New(rand.NewPCG(uint64(t), uint64(h)))
	seed := int64(42)
	mistake := false
	e := &Episode{Meta: Meta{
		ID: NewID(), Source: "sim", RobotID: "pusht-sim-1", Policy: "expert", Scenario: "pusht/test",
		Seed: &seed, Instruction: PushTInstruction, Speed: "fast", Quality: 4, Mistake: &mistake,
		Outcome: &Outcome{Success: true, MaxReward: 0.97, FinalCoverage: 0.96},
		Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Extra: map[string]string{"k": "v"},
		FrameH: h, FrameW: w, Channels: 3,
	}}
	for i := 0; i < t; i++ {
		f := make([]uint8, h*w*3)
		for j := range f {
			f[j] = uint8(r.IntN(256))
		}
		e.Frames = append(e.Frames, f)
		e.Proprio = append(e.Proprio, []float32{float32(r.NormFloat64() * 100), float32(i)})
		e.Actions = append(e.Actions, []float32{1e-40, float32(math.Copysign(0, -1)), 3.4e38})
		e.Timestamps = append(e.Timestamps, float64(i)/10+1e-9)
		if withGT {
			e.GroundTruth = append(e.GroundTruth, []float32{1, 2, 3, 4, float32(r.Float64() * 6.28)})
		}
		if withRewards {
			e.Rewards = append(e.Rewards, float32(r.Float64()))
		}
	}
	e.fillShapes()
	return e
}
