package expert

import (
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/pusht"
)

// The predictor only ranks primitives, but it must agree with the simulator
// on where a push sends the block or the ranking is noise.
func TestPredictPushAgreesWithSimulator(t *testing.T) {
	for _, name := range Scenes() {
		t.Run(name, func(t *testing.T) {
			sc := scenes[name]
			env, b := sc.newSim(), sc.body
			rng := rand.New(rand.NewPCG(1, 2))
			cons := b.contacts(10, 2)
			var errPred, errStill float64
			n := 0
			for range 200 {
				q := pose{p: v2{200 + 100*rng.Float64(), 200 + 100*rng.Float64()}, angle: 2 * math.Pi * rng.Float64()}
				c := cons[rng.IntN(len(cons))]
				L := 15.0
				pre := q.toWorld(c.pre)
				u := q.dirToWorld(c.dir)
				env.SetState(pusht.State{Agent: toVec2(pre), Block: pusht.Pose{X: q.p.x, Y: q.p.y, Angle: q.angle}})
				for _, tg := range pushTargets(pre, v2{}, u, preGap+L, 8) {
					env.Step(toVec2(tg))
				}
				got := toPose(env.State().Block)
				at := c.pre.add(c.dir.mul(agentRadius + preGap))
				want := b.predictPush(q, at, c.dir, u, L)
				errPred += math.Sqrt(b.poseError(got, want))
				errStill += math.Sqrt(b.poseError(got, q))
				n++
			}
			errPred /= float64(n)
			errStill /= float64(n)
			t.Logf("mean rms displacement: predictor vs sim %.2f px, block moved %.2f px", errPred, errStill)
			if errPred > 0.5*errStill {
				t.Errorf("predictor error %.2f px is not well below the motion %.2f px", errPred, errStill)
			}
		})
	}
}
