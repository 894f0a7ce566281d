package fleet

import (
	"maps"
	"testing"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/policy/zoo"
)

// TestMeta: a stored episode's metadata takes its provenance from the
// coordinator's own record of the assignment, never from the robot's log.
func TestMeta(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	yes, mistake, clearance := true, false, 3.14159
	steered := &zoo.Arm{Name: "slow-q2", Backend: "scripted", Options: map[string]string{"quality": "2"},
		Context: &zoo.Steering{Task: "push it gently", Speed: "slow", Quality: 2, Mistake: &mistake}}
	tests := []struct {
		name        string
		req         EpisodeRequest
		outcome     Outcome
		instruction string
		backend     string
		endpoint    string
		extra       map[string]string
	}{
		{"a plain arm takes the scenario's instruction",
			EpisodeRequest{ID: "q1", Arm: &zoo.Arm{Name: "q5", Backend: "scripted"}, Scenario: "pusht", Seed: 7}, Outcome{},
			"push the T-shaped block onto the green target", "scripted", "", nil},
		{"steering sets the instruction and the extras",
			EpisodeRequest{ID: "q2", Arm: steered, Scenario: "pusht", Seed: 7}, Outcome{},
			"push it gently", "scripted", "", map[string]string{"steer_speed": "slow", "steer_quality": "2", "steer_mistake": "false"}},
		{"the keep-out zone's result",
			EpisodeRequest{ID: "q3", OpenPI: "ws://pi:8000", Scenario: "mars", Seed: 7},
			Outcome{EpisodeResult: EpisodeResult{Violated: &yes, MinClearance: &clearance}},
			"", "", "ws://pi:8000", map[string]string{"zone_violated": "true", "zone_min_clearance": "3.14"}},
		{"an openpi endpoint's layout is recorded, its key is not",
			EpisodeRequest{ID: "q4", OpenPI: "ws://pi:8000", OpenPIOptions: map[string]string{"layout": "droid", "api_key": "secret"}, Scenario: "mars", Seed: 7},
			Outcome{}, "", "openpi", "ws://pi:8000", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			as := &assignment{a: Assignment{ID: "a1"}, p: &pending{req: tc.req}, robot: "r1"}
			shapes := episode.Meta{ID: "from-the-robot", Source: "robot", Steps: 12}
			md := meta(as, tc.outcome, "sim/pusht", shapes, now)
			p := md.Provenance
			if md.ID != "a1" || md.Source != "fleet" || md.RobotID != "r1" || md.Seed == nil || *md.Seed != 7 || md.Steps != 12 ||
				md.Policy != tc.req.Policy().Name() || md.Instruction != tc.instruction || !md.Created.Equal(now) || md.Outcome == nil {
				t.Fatalf("meta %+v", md)
			}
			if p == nil || p.Assignment != "a1" || p.Request != tc.req.ID || p.Embodiment != "sim/pusht" ||
				p.PolicyBackend != tc.backend || p.PolicyEndpoint != tc.endpoint || !p.Received.Equal(now) {
				t.Fatalf("provenance %+v", p)
			}
			if _, leaked := p.PolicyOptions["api_key"]; leaked || (tc.req.OpenPIOptions != nil && p.PolicyOptions["layout"] != "droid") {
				t.Fatalf("policy options %v", p.PolicyOptions)
			}
			if !maps.Equal(md.Extra, tc.extra) {
				t.Fatalf("extra %v, want %v", md.Extra, tc.extra)
			}
		})
	}
}
