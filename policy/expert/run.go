package expert

import (
	"context"
	"fmt"

	"dreamrank/foundation/pusht"
)

// Result is one expert episode.
type Result struct {
	// Scene is the scene played (Options.Scene, DefaultScene when empty).
	Scene string
	Seed  int64
	// States has one entry per step plus the initial state: States[i] is
	// what the expert saw when it chose Actions[i].
	States  []pusht.State
	Actions []pusht.Vec2
	Rewards []float64
	// Coverage after each step.
	Coverage []float64
	Success  bool
	// StepsToSuccess is the number of steps taken when success was first
	// reached, or -1.
	StepsToSuccess int
	MaxReward      float64
	// SimSteps counts the control steps simulated while planning.
	SimSteps int
	// Mistakes counts deliberate wrong choices made during the episode.
	Mistakes int
}

// Steps is the episode length.
func (r Result) Steps() int { return len(r.Actions) }

// Run resets env, a simulator of opts.Scene, with the scene's seeded reset
// (PushT's legacy reset) and lets the expert play one episode, until success
// or the step limit. On cancellation it returns the partial episode together
// with the context's error.
func Run(ctx context.Context, env Sim, seed int64, opts Options) (Result, error) {
	res := Result{Seed: seed, StepsToSuccess: -1}
	sc, err := lookupScene(opts.Scene)
	if err != nil {
		return res, err
	}
	res.Scene = sc.scenario.Name
	if err := sc.reset(env, seed); err != nil {
		return res, err
	}
	pol, err := NewPolicy(env, seed, opts)
	if err != nil {
		return res, err
	}
	maxSteps := opts.MaxSteps
	if maxSteps == 0 {
		maxSteps = sc.scenario.Horizon
	}
	s := env.State()
	res.States = append(res.States, s)
	for step := 0; step < maxSteps; step++ {
		// Act only checks ctx when it plans; checking every step keeps
		// cancellation prompt during long pushes too.
		if err := ctx.Err(); err != nil {
			res.SimSteps, res.Mistakes = pol.SimSteps, pol.Mistakes
			return res, fmt.Errorf("expert: seed %d step %d: %w", seed, step, err)
		}
		a, err := pol.Act(ctx, s)
		if err != nil {
			res.SimSteps, res.Mistakes = pol.SimSteps, pol.Mistakes
			return res, err
		}
		info := env.Step(a)
		s = env.State()
		res.Actions = append(res.Actions, a)
		res.States = append(res.States, s)
		res.Rewards = append(res.Rewards, info.Reward)
		res.Coverage = append(res.Coverage, info.Coverage)
		res.MaxReward = max(res.MaxReward, info.Reward)
		if info.Success {
			res.Success = true
			res.StepsToSuccess = step + 1
			break
		}
	}
	res.SimSteps, res.Mistakes = pol.SimSteps, pol.Mistakes
	return res, nil
}
