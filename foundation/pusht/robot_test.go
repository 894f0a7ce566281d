package pusht

import "testing"

func TestRobotEpisode(t *testing.T) {
	tests := []struct {
		name      string
		seed      int64
		target    func(GroundTruth) Vec2
		wantSteps int
	}{
		// Holding the pusher still never succeeds: the episode times out.
		{"idle until timeout", 100000, func(g GroundTruth) Vec2 { return g.State.Agent }, MaxSteps},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRobot(Config{})
			obs := r.Reset(tc.seed)
			if len(obs.Image) != ObsSize*ObsSize*3 {
				t.Fatalf("first observation has %d bytes", len(obs.Image))
			}
			g := r.GroundTruth()
			if g.Seed != tc.seed || g.Steps != 0 || obs.Agent != g.State.Agent {
				t.Fatalf("after reset: %+v, observation agent %v", g, obs.Agent)
			}
			steps := 0
			for done := false; !done; steps++ {
				obs, done = r.Act(tc.target(r.GroundTruth()))
			}
			if steps != tc.wantSteps || r.GroundTruth().Steps != tc.wantSteps {
				t.Errorf("episode took %d steps (truth %d), want %d", steps, r.GroundTruth().Steps, tc.wantSteps)
			}
			before := r.GroundTruth().State
			if _, done := r.Act(Vec2{0, 0}); !done || r.GroundTruth().State != before {
				t.Error("Act after the end moved the robot or reported not done")
			}
		})
	}
}

func TestRobotStopsOnSuccess(t *testing.T) {
	r := NewRobot(Config{})
	r.Reset(0)
	// Teleport the block onto the goal, out of the pusher's way.
	r.env.SetState(State{Agent: Vec2{60, 60}, Block: Goal})
	_, done := r.Act(Vec2{60, 60})
	g := r.GroundTruth()
	if !done || !g.Success || g.MaxReward != 1 || g.Steps != 1 {
		t.Fatalf("at the goal: done=%v truth=%+v", done, g)
	}
}
