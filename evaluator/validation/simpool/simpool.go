// Package simpool builds validation pools (evaluator/validation) from PushT
// simulator episodes of the keep-out-zone scenario (scenarios.PushTSafety):
// the real outcome of each initial condition comes from the reference
// simulator driven by the scripted expert, and, until the learned world
// model is wired into the evaluator, the "imagined" outcome comes from the
// same expert in a simulator with deliberately wrong pusher dynamics (a
// stand-in world model whose errors come from physics, not from a formula).
package simpool

import (
	"context"
	"fmt"
	"sync"

	"dreamrank/evaluator/validation"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

// Config sets a pool build. Zero fields take the defaults in brackets.
type Config struct {
	N         int   // initial conditions [1000]
	FirstSeed int64 // scenario seeds FirstSeed..FirstSeed+N-1 [0]
	Workers   int   // parallel episodes [1]
	// Expert plays both sides [best quality, normal speed].
	Expert expert.Options
	// Model is the stand-in world model's simulator [Kp 60, Kv 30: a
	// softer, more damped pusher than the reference's Kp 100, Kv 20].
	Model pusht.Config
	// Progress, if set, is called after each initial condition.
	Progress func(done, total int)
}

func (c Config) withDefaults() Config {
	if c.N == 0 {
		c.N = 1000
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.Model == (pusht.Config{}) {
		c.Model = pusht.Config{Kp: 60, Kv: 30}
	}
	return c
}

// FeatureNames are the stand-in world model's features.
var FeatureNames = []string{"pred_violation", "pred_min_clearance_px", "pred_final_coverage"}

// Episode is one side of a pair: what the pusher did relative to the zone.
type Episode struct {
	Violated     bool
	MinClearance float64
	Coverage     float64
	Steps        int
}

// Play runs the expert from in's initial condition in env until success or
// opts.MaxSteps (default pusht.MaxSteps) and judges the zone from the pusher's positions.
func Play(ctx context.Context, env *pusht.Env, in scenarios.SafetyInit, opts expert.Options) (Episode, error) {
	env.SetState(pusht.State{
		Agent: pusht.Vec2{X: in.Agent[0], Y: in.Agent[1]},
		Block: pusht.Pose{X: in.Block[0], Y: in.Block[1], Angle: in.Block[2]},
	})
	pol, err := expert.NewPolicy(env, in.Seed, opts)
	if err != nil {
		return Episode{}, err
	}
	s := env.State()
	agent := [][2]float64{{s.Agent.X, s.Agent.Y}}
	var ep Episode
	limit := opts.MaxSteps
	if limit == 0 {
		limit = pusht.MaxSteps
	}
	for ep.Steps < limit {
		a, err := pol.Act(ctx, s)
		if err != nil {
			return ep, fmt.Errorf("simpool: seed %d: %w", in.Seed, err)
		}
		info := env.Step(a)
		ep.Steps++
		s = env.State()
		agent = append(agent, [2]float64{s.Agent.X, s.Agent.Y})
		ep.Coverage = info.Coverage
		if info.Success {
			break
		}
	}
	ep.Violated, _, ep.MinClearance = in.Zone.Violation(agent)
	return ep, nil
}

// Build plays cfg.N initial conditions on both simulators and returns the
// pool: Real is the reference simulator's violation, Features the stand-in
// model's violation, minimum clearance (clipped to [-40, 120] px, as the
// synthetic pool) and final coverage.
func Build(ctx context.Context, cfg Config) (validation.Pool, error) {
	cfg = cfg.withDefaults()
	pool := validation.Pool{
		Name: "sim-pusht-safety",
		Description: fmt.Sprintf("PushT keep-out-zone scenario, seeds %d..%d: real = reference simulator + scripted expert %+v; "+
			"imagined = same expert in a simulator with pusher gains %+v (stand-in world model)",
			cfg.FirstSeed, cfg.FirstSeed+int64(cfg.N)-1, cfg.Expert, cfg.Model),
		CriticalNames: scenarios.SafetyCriticalNames,
		FeatureNames:  FeatureNames,
		Strata:        scenarios.SafetyStrata(),
		Records:       make([]validation.Record, cfg.N),
	}
	jobs := make(chan int)
	errs := make(chan error, cfg.Workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			real, model := pusht.New(pusht.Config{}), pusht.New(cfg.Model)
			for i := range jobs {
				in := scenarios.PushTSafety{}.Sample(cfg.FirstSeed + int64(i))
				r, err := Play(ctx, real, in, cfg.Expert)
				if err != nil {
					errs <- err
					return
				}
				m, err := Play(ctx, model, in, cfg.Expert)
				if err != nil {
					errs <- err
					return
				}
				rec := validation.Record{Critical: in.Critical, Features: features(m)}
				if r.Violated {
					rec.Real = 1
				}
				pool.Records[i] = rec
				mu.Lock()
				done++
				if cfg.Progress != nil {
					cfg.Progress(done, cfg.N)
				}
				mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for i := range cfg.N {
		select {
		case jobs <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return validation.Pool{}, fmt.Errorf("simpool: %w", err)
	}
	return pool, pool.Validate()
}
