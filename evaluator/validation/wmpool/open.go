package wmpool

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"strconv"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation"
	"dreamrank/policy"
	"dreamrank/policy/zoo"
	"dreamrank/worldmodel"
)

// Sources name what a build opens, as `dreamrank safety pool --world-model`
// names them (its errors name those flags): the world model and its
// perturbed draws, the judge, and the zoo arm with its seeded draws.
type Sources struct {
	// Backend and Options open the world model.
	Backend string
	Options worldmodel.Options
	// ModelDraws perturbed draws of the model (worldmodel.DrawOptions)
	// with seeds FirstDrawSeed.. and relative noise DrawNoise.
	ModelDraws    int
	FirstDrawSeed int
	DrawNoise     float64
	// Judge and JudgeOptions open the judge of the imagined frames.
	Judge        string
	JudgeOptions judge.Options
	// Arm is the zoo arm played on both sides; ArmDraws more copies of it
	// run with the backend option seed=1..ArmDraws.
	Arm      string
	ArmDraws int
}

// Open opens the sources into cfg: its Model and ModelName, ModelDraws
// and DrawSeeds, Judge, Arm, Policy, Steer and Draws.
func (s Sources) Open(ctx context.Context, cfg *Config) error {
	m, err := worldmodel.Open(ctx, s.Backend, s.Options)
	if err != nil {
		return err
	}
	cfg.Model, cfg.ModelName = m, s.Backend
	if s.FirstDrawSeed < 1 {
		return fmt.Errorf("--wm-draw-seed %d: must be at least 1 (seed 0 is the model itself)", s.FirstDrawSeed)
	}
	for k := s.FirstDrawSeed; k < s.FirstDrawSeed+s.ModelDraws; k++ {
		opts, err := worldmodel.DrawOptions(s.Backend, s.Options, s.DrawNoise, k)
		if err != nil {
			return fmt.Errorf("--wm-draws: draw %d: %w", k, err)
		}
		d, err := worldmodel.Open(ctx, s.Backend, opts)
		if err != nil {
			return fmt.Errorf("--wm-draws: draw %d: %w", k, err)
		}
		cfg.ModelDraws = append(cfg.ModelDraws, d)
		cfg.DrawSeeds = append(cfg.DrawSeeds, k)
	}
	if cfg.Judge, err = judge.Open(ctx, s.Judge, s.JudgeOptions); err != nil {
		return err
	}
	p, a, err := zoo.Open(ctx, s.Arm)
	if err != nil {
		return err
	}
	cfg.Arm, cfg.Policy, cfg.Steer = s.Arm, p, a.Steer()
	for k := 1; k <= s.ArmDraws; k++ {
		o := maps.Clone(a.Options)
		if o == nil {
			o = map[string]string{}
		}
		o["seed"] = strconv.Itoa(k)
		d, err := policy.Open(ctx, a.Backend, policy.Options(o))
		if err != nil {
			return fmt.Errorf("--draws: arm %s with seed %d: %w", s.Arm, k, err)
		}
		cfg.Draws = append(cfg.Draws, d)
	}
	return nil
}

// SaveBatch returns a Config.Batched that writes the pool so far to the
// JSON file pool and, when stats is not "", the build's statistics to the
// JSON file stats.
func SaveBatch(pool, stats string) func(validation.Pool, Stats) error {
	return func(p validation.Pool, st Stats) error {
		if stats != "" {
			raw, err := json.MarshalIndent(st, "", "  ")
			if err != nil {
				return err
			}
			if err := os.WriteFile(stats, raw, 0o644); err != nil {
				return err
			}
		}
		return p.Save(pool)
	}
}
