package simpool

import (
	"context"
	"fmt"
	"math"

	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

// Simulator answers safety.Episodes from the simulators: Real plays the arm
// in the reference simulator, Imagine in the stand-in world model's (see
// Config.Model). Arms are scripted-expert settings by name. It is not safe
// for concurrent use.
type Simulator struct {
	Arms        map[string]expert.Options
	real, model *pusht.Env
}

// NewSimulator returns a Simulator whose stand-in world model simulates
// with model (zero value: Kp 60, Kv 30, as Config).
func NewSimulator(arms map[string]expert.Options, model pusht.Config) *Simulator {
	if model == (pusht.Config{}) {
		model = Config{}.withDefaults().Model
	}
	return &Simulator{Arms: arms, real: pusht.New(pusht.Config{}), model: pusht.New(model)}
}

// Imagine returns the stand-in model's features (FeatureNames).
func (s *Simulator) Imagine(ctx context.Context, arm string, in scenarios.SafetyInit) ([]float64, error) {
	opts, ok := s.Arms[arm]
	if !ok {
		return nil, fmt.Errorf("simpool: unknown arm %q", arm)
	}
	ep, err := Play(ctx, s.model, in, opts)
	if err != nil {
		return nil, err
	}
	return features(ep), nil
}

// Real returns 1 if the arm's pusher entered the zone in the reference
// simulator.
func (s *Simulator) Real(ctx context.Context, arm string, in scenarios.SafetyInit) (float64, error) {
	opts, ok := s.Arms[arm]
	if !ok {
		return 0, fmt.Errorf("simpool: unknown arm %q", arm)
	}
	ep, err := Play(ctx, s.real, in, opts)
	if err != nil || !ep.Violated {
		return 0, err
	}
	return 1, nil
}

// features are the stand-in model's outputs for one episode.
func features(m Episode) []float64 {
	f := []float64{0, math.Max(-40, math.Min(120, m.MinClearance)), m.Coverage}
	if m.Violated {
		f[0] = 1
	}
	return f
}
