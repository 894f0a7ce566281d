package expert

import (
	"math"
	"testing"

	"dreamrank/foundation/pusht"
)

// The pusher model must match the simulator, and deadbeat moves must stop
// where asked.
func TestAgentModelMatchesSimulator(t *testing.T) {
	env := pusht.New(pusht.Config{})
	// Far from the block (which the reset leaves near the centre) so that
	// nothing but the PD law acts.
	x0, v0 := v2{60, 60}, v2{30, -20}
	env.SetState(pusht.State{Agent: toVec2(x0), AgentVel: toVec2(v0), Block: pusht.Pose{X: 400, Y: 400}})
	for _, n := range []int{2, 3, 6} {
		st := env.State()
		goal := toV2(st.Agent).add(v2{17, 9})
		targets := moveTargets(toV2(st.Agent), toV2(st.AgentVel), goal, n)
		px, pv := simulateAgent(toV2(st.Agent), toV2(st.AgentVel), targets)
		for _, tg := range targets {
			env.Step(toVec2(tg))
		}
		got := env.State()
		if d := toV2(got.Agent).dist(px); d > 1e-6 {
			t.Errorf("n=%d: model position off by %g px", n, d)
		}
		if d := toV2(got.AgentVel).dist(pv); d > 1e-6 {
			t.Errorf("n=%d: model velocity off by %g px/s", n, d)
		}
		if d := toV2(got.Agent).dist(goal); d > 1e-6 || toV2(got.AgentVel).norm() > 1e-6 {
			t.Errorf("n=%d: deadbeat stop at %v (vel %v), want %v at rest", n, got.Agent, got.AgentVel, goal)
		}
	}
	_ = math.Pi
}
