// Package steering measures whether a steerable policy follows its context:
// the same seeds are played under several contexts (arms) and every two
// arms named in a contrast are compared seed by seed, so the difference in
// success, episode length and max reward comes with a paired Student-t 95%
// interval. Pairing removes the seeds' own difficulty from the comparison,
// which is what lets 100-200 seeds separate small steering effects.
//
// Subgoal images come from a look-ahead (ExpertSubgoal): the episode's
// simulator is cloned, the scripted expert plays a chunk in the clone, and
// the camera frame after it is the subgoal. It stands in for the subgoal
// generator a deployment would use (a world model or a human), and it
// reads only a copy of the episode: the policy still sees only the camera
// frame, the proprio and the context.
package steering

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/stat"
	"dreamrank/policy"
	"dreamrank/policy/scripted"
	"dreamrank/policy/trial"
)

// Arm is one context the policy is played under.
type Arm struct {
	Name    string         `json:"name"`
	Context policy.Context `json:"context"`
	// Subgoal adds the look-ahead subgoal image to every observation.
	Subgoal bool `json:"subgoal,omitempty"`
}

// Contrast names two arms to compare, A minus B.
type Contrast struct {
	A string `json:"a"`
	B string `json:"b"`
}

// Config is one steering measurement.
type Config struct {
	Seeds     []int64
	Arms      []Arm
	Contrasts []Contrast
	// Execute, MaxSteps, Workers and Progress are passed to each arm's
	// trial.
	Execute  int
	MaxSteps int
	Workers  int
	Progress func(arm string, done, total int)
	// Subgoal makes an arm's subgoal images (nil: ExpertSubgoal(16), the
	// chunk length the PushT policies are trained on).
	Subgoal func(ctx context.Context, env *pusht.Env) ([]uint8, error)
}

// Diff is a paired mean difference with its Student-t 95% interval.
type Diff struct {
	Mean float64       `json:"mean"`
	CI   stat.Interval `json:"ci"`
}

// Excludes0 reports whether the interval lies on one side of zero.
func (d Diff) Excludes0() bool {
	lo, hi := float64(d.CI.Lo), float64(d.CI.Hi)
	return lo > 0 || hi < 0
}

// Paired is a contrast's result over the seeds both arms played.
type Paired struct {
	Contrast
	Seeds int `json:"seeds"`
	// Success is the difference in success (1/0 per seed), Steps in episode
	// length (failures count the full horizon), MaxReward in max reward.
	Success   Diff `json:"success"`
	Steps     Diff `json:"steps"`
	MaxReward Diff `json:"max_reward"`
}

// Report is a measurement: each arm's trial summary and every contrast.
type Report struct {
	Arms      []ArmSummary `json:"arms"`
	Contrasts []Paired     `json:"contrasts"`
}

// ArmSummary is one arm's trial summary.
type ArmSummary struct {
	Arm
	trial.Summary
}

// ErrConfig: arms or contrasts that cannot be measured.
var ErrConfig = errors.New("steering: bad configuration")

// Run plays every arm on the seeds and computes the contrasts.
func Run(ctx context.Context, p policy.Policy, cfg Config) (Report, error) {
	byName := map[string]int{}
	for i, a := range cfg.Arms {
		if _, dup := byName[a.Name]; dup || a.Name == "" {
			return Report{}, fmt.Errorf("%w: arm name %q empty or repeated", ErrConfig, a.Name)
		}
		byName[a.Name] = i
	}
	for _, c := range cfg.Contrasts {
		if _, ok := byName[c.A]; !ok {
			return Report{}, fmt.Errorf("%w: contrast names unknown arm %q", ErrConfig, c.A)
		}
		if _, ok := byName[c.B]; !ok || c.A == c.B {
			return Report{}, fmt.Errorf("%w: contrast %s vs %q", ErrConfig, c.A, c.B)
		}
	}
	sub := cfg.Subgoal
	if sub == nil {
		var err error
		if sub, err = ExpertSubgoal(16); err != nil {
			return Report{}, err
		}
	}
	var rep Report
	for _, a := range cfg.Arms {
		steer := a.Context
		tc := trial.Config{Seeds: cfg.Seeds, Execute: cfg.Execute, MaxSteps: cfg.MaxSteps, Workers: cfg.Workers, Steer: &steer}
		if a.Subgoal {
			tc.Subgoal = sub
		}
		if cfg.Progress != nil {
			name := a.Name
			tc.Progress = func(done, total int) { cfg.Progress(name, done, total) }
		}
		s, err := trial.Run(ctx, p, tc)
		if err != nil {
			return Report{}, fmt.Errorf("steering: arm %s: %w", a.Name, err)
		}
		rep.Arms = append(rep.Arms, ArmSummary{Arm: a, Summary: s})
	}
	for _, c := range cfg.Contrasts {
		pr, err := Compare(rep.Arms[byName[c.A]].Results, rep.Arms[byName[c.B]].Results)
		if err != nil {
			return Report{}, err
		}
		pr.Contrast = c
		rep.Contrasts = append(rep.Contrasts, pr)
	}
	return rep, nil
}

// Compare pairs two arms' results by seed (A minus B).
func Compare(a, b []trial.Result) (Paired, error) {
	bySeed := make(map[int64]trial.Result, len(b))
	for _, r := range b {
		bySeed[r.Seed] = r
	}
	var succ, steps, rew []float64
	for _, ra := range a {
		rb, ok := bySeed[ra.Seed]
		if !ok {
			continue
		}
		succ = append(succ, b2f(ra.Success)-b2f(rb.Success))
		steps = append(steps, float64(ra.Steps-rb.Steps))
		rew = append(rew, ra.MaxReward-rb.MaxReward)
	}
	if len(succ) < 2 {
		return Paired{}, fmt.Errorf("%w: %d seeds in common, want at least 2", ErrConfig, len(succ))
	}
	return Paired{Seeds: len(succ), Success: diff(succ), Steps: diff(steps), MaxReward: diff(rew)}, nil
}

func diff(xs []float64) Diff {
	m, ci := stat.MeanT(xs, 0.95)
	return Diff{Mean: m, CI: ci}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ExpertSubgoal looks ahead steps actions: it clones the episode's
// environment, lets the best-quality scripted expert play from the clone's
// observation, and returns the camera frame after them.
func ExpertSubgoal(steps int) (func(ctx context.Context, env *pusht.Env) ([]uint8, error), error) {
	lookahead, err := scripted.New(scripted.Config{Workers: 1})
	if err != nil {
		return nil, fmt.Errorf("steering: look-ahead expert: %w", err)
	}
	return func(ctx context.Context, env *pusht.Env) ([]uint8, error) {
		look := env.Clone()
		for done := 0; done < steps; {
			o := look.Observe()
			chunk, err := lookahead.Act(ctx, []policy.Observation{{Image: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}}, nil)
			if err != nil {
				return nil, fmt.Errorf("steering: look-ahead: %w", err)
			}
			for _, a := range chunk[0].Actions {
				if done == steps {
					break
				}
				look.Step(pusht.Vec2{X: float64(a[0]), Y: float64(a[1])})
				done++
			}
		}
		return slices.Clone(look.Observe().Image), nil
	}, nil
}

// Standard is the steering measurement for a task: quality 5 vs 1
// (success), fast vs slow (episode length), a look-ahead subgoal vs none
// (success), and quality 5 vs no metadata at all (what the context adds
// over the unconditioned policy that context dropout trains).
func Standard(task string) ([]Arm, []Contrast) {
	ctx := func(q int, speed string) policy.Context {
		return policy.Context{Task: task, Metadata: policy.Metadata{Quality: q, Speed: speed}}
	}
	arms := []Arm{
		{Name: "q5", Context: ctx(5, policy.SpeedNormal)},
		{Name: "q1", Context: ctx(1, policy.SpeedNormal)},
		{Name: "fast", Context: ctx(5, policy.SpeedFast)},
		{Name: "slow", Context: ctx(5, policy.SpeedSlow)},
		{Name: "q5-subgoal", Context: ctx(5, policy.SpeedNormal), Subgoal: true},
		{Name: "unconditioned", Context: policy.Context{Task: task}},
	}
	return arms, []Contrast{{"q5", "q1"}, {"fast", "slow"}, {"q5-subgoal", "q5"}, {"q5", "unconditioned"}}
}
