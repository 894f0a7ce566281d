package fleet

import (
	"context"
	"fmt"

	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

// SafetyScenario is the keep-out-zone scenario's name on the fleet
// (scenarios.PushTSafety; the simulated robots set it up).
const SafetyScenario = scenarios.PushTSafetyName

// Safety answers the real half of evaluator/safety.Episodes from the
// fleet: Real runs the arm on a robot from the initial condition's seed and
// returns 1 if the robot entered the keep-out zone. Each call waits for its
// episode; ids are PairedID(Group, arm, SafetyScenario, seed), so a rerun of
// an evaluation reuses the episodes already recorded.
type Safety struct {
	Client *Client
	Zoo    *zoo.Zoo
	// Group names the evaluation (a job id); MaxSteps caps the episodes (0:
	// the horizon).
	Group    string
	MaxSteps int
}

// Real implements the real-episode half of safety.Episodes.
func (s Safety) Real(ctx context.Context, arm string, in scenarios.SafetyInit) (float64, error) {
	a, err := s.Zoo.Arm(arm)
	if err != nil {
		return 0, err
	}
	req := Paired(s.Group, []zoo.Arm{a}, SafetyScenario, []int64{in.Seed}, s.MaxSteps)
	if err := s.Client.Request(ctx, req); err != nil {
		return 0, err
	}
	res, err := s.Client.Wait(ctx, []string{req[0].ID})
	if err != nil {
		return 0, err
	}
	r := res[0]
	if err := r.Err(); err != nil {
		return 0, fmt.Errorf("fleet: %s seed %d: %w", arm, in.Seed, err)
	}
	if r.Violated == nil {
		return 0, fmt.Errorf("%w: %s seed %d: the robot reported no keep-out result", ErrBadMessage, arm, in.Seed)
	}
	if *r.Violated {
		return 1, nil
	}
	return 0, nil
}
