// Package safety runs a keep-out-zone safety evaluation end to end: it
// samples initial conditions of scenarios.PushTSafety, has each arm (policy)
// imagine many of them, spends a small real-episode budget over arms and
// strata in adaptive rounds (estimate.Allocate), asks for those real
// episodes together with their imagined twins, and returns each arm's
// real-only, control-variate and stratified estimates of its violation rate.
//
// All episodes come through the narrow Episodes interface: the fleet will
// answer it; until then the simulator does (simpool.Simulator).
package safety

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"dreamrank/evaluator/estimate"
	"dreamrank/scenarios"
)

// ErrConfig is returned for an evaluation that cannot run as configured.
var ErrConfig = errors.New("safety: bad configuration")

// Episodes produces episodes of an arm from an initial condition.
type Episodes interface {
	// Imagine returns the world model's features for the episode
	// (Features[0] its predicted violation).
	Imagine(ctx context.Context, arm string, in scenarios.SafetyInit) ([]float64, error)
	// Real returns the real outcome: 1 for a violation, 0 otherwise.
	Real(ctx context.Context, arm string, in scenarios.SafetyInit) (float64, error)
}

// Config sets an evaluation. Zero fields take the defaults in brackets.
type Config struct {
	Arms     []string // policies to evaluate [required]
	Imagined int      // imagined episodes per arm [1000]
	Budget   int      // real episodes over all arms [50 per arm]
	Rounds   int      // allocation rounds [2]
	// Seeds: imagined episodes use seeds from ImaginedSeed, real ones are
	// found per stratum from RealSeed, so the two never share an initial
	// condition [1,000,000 and 2,000,000].
	ImaginedSeed, RealSeed int64
	// WeightSamples is how many scenario draws estimate the stratum
	// weights (no episode runs for them) [200,000].
	WeightSamples int
	Options       estimate.Options
	// Progress, if set, is told about each finished episode.
	Progress func(done, total int)
}

func (c Config) withDefaults() Config {
	if c.Imagined == 0 {
		c.Imagined = 1000
	}
	if c.Budget == 0 {
		c.Budget = 50 * len(c.Arms)
	}
	if c.Rounds == 0 {
		c.Rounds = 2
	}
	if c.ImaginedSeed == 0 {
		c.ImaginedSeed = 1_000_000
	}
	if c.RealSeed == 0 {
		c.RealSeed = 2_000_000
	}
	if c.WeightSamples == 0 {
		c.WeightSamples = 200_000
	}
	return c
}

// Arm is one policy's result.
type Arm struct {
	Arm string `json:"arm"`
	// RealPerStratum is how many real episodes each stratum got.
	RealPerStratum []int             `json:"real_per_stratum"`
	Estimates      []estimate.Result `json:"estimates"`
}

// Report is an evaluation's result.
type Report struct {
	Scenario       string    `json:"scenario"`
	StratumWeights []float64 `json:"stratum_weights"`
	RealBudget     int       `json:"real_budget"`
	// Rounds lists the real episodes requested per round and cell (arm-major).
	Rounds [][]int `json:"rounds"`
	Arms   []Arm   `json:"arms"`
}

// Run performs the evaluation.
func Run(ctx context.Context, src Episodes, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Arms) == 0 {
		return Report{}, fmt.Errorf("%w: no arms", ErrConfig)
	}
	sc := scenarios.PushTSafety{}
	grid := scenarios.SafetyStrata()
	H := grid.Len()
	crit := func(seed int64) []float64 { return sc.Sample(seed).Critical }
	weights, err := scenarios.StratumWeights(crit, grid, 0, cfg.WeightSamples)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Scenario: scenarios.PushTSafetyName, StratumWeights: weights, RealBudget: cfg.Budget}
	total := len(cfg.Arms)*cfg.Imagined + 2*cfg.Budget
	done := 0
	tick := func() {
		done++
		if cfg.Progress != nil {
			cfg.Progress(done, total)
		}
	}
	imagined := make([][]estimate.Imagined, len(cfg.Arms))
	for a, arm := range cfg.Arms {
		for i := range cfg.Imagined {
			in := sc.Sample(cfg.ImaginedSeed + int64(i))
			f, err := src.Imagine(ctx, arm, in)
			if err != nil {
				return rep, fmt.Errorf("safety: imagine %s seed %d: %w", arm, in.Seed, err)
			}
			imagined[a] = append(imagined[a], estimate.Imagined{Critical: in.Critical, Features: f})
			tick()
		}
	}
	// Real seeds per stratum, shared by the arms (common random numbers:
	// the arms are compared on the same initial conditions).
	next := make([]int64, H)
	for h := range next {
		next[h] = cfg.RealSeed
	}
	var seedsByStratum [][]int64 = make([][]int64, H)
	seedFor := func(h, i int) (int64, error) {
		for len(seedsByStratum[h]) <= i {
			s := scenarios.SeedsInStratum(crit, grid, h, next[h], 1, 100_000)
			if len(s) == 0 {
				return 0, fmt.Errorf("%w: no seed in stratum %d", ErrConfig, h)
			}
			seedsByStratum[h] = append(seedsByStratum[h], s[0])
			next[h] = s[0] + 1
		}
		return seedsByStratum[h][i], nil
	}
	cells := make([]estimate.Cell, len(cfg.Arms)*H)
	for a, arm := range cfg.Arms {
		for h := range H {
			cells[a*H+h] = estimate.Cell{Arm: arm, Stratum: h, Weight: weights[h], Var: math.NaN()}
		}
	}
	paired := make([][]estimate.Paired, len(cfg.Arms))
	spent := 0
	for round := range cfg.Rounds {
		budget := (cfg.Budget - spent) / (cfg.Rounds - round)
		if round == cfg.Rounds-1 {
			budget = cfg.Budget - spent
		}
		need := 0
		for _, c := range cells {
			if c.Weight > 0 {
				need += max(0, 2-c.N)
			}
		}
		budget = min(max(budget, need), cfg.Budget-spent)
		add, err := estimate.Allocate(cells, budget, 2)
		if err != nil {
			return rep, fmt.Errorf("safety: round %d: %w", round, err)
		}
		rep.Rounds = append(rep.Rounds, add)
		for c, k := range add {
			a, h := c/H, c%H
			for range k {
				seed, err := seedFor(h, cells[c].N)
				if err != nil {
					return rep, err
				}
				in := sc.Sample(seed)
				f, err := src.Imagine(ctx, cfg.Arms[a], in)
				if err != nil {
					return rep, fmt.Errorf("safety: imagine %s seed %d: %w", cfg.Arms[a], seed, err)
				}
				tick()
				y, err := src.Real(ctx, cfg.Arms[a], in)
				if err != nil {
					return rep, fmt.Errorf("safety: real %s seed %d: %w", cfg.Arms[a], seed, err)
				}
				tick()
				paired[a] = append(paired[a], estimate.Paired{Critical: in.Critical, Real: y, Features: f})
				cells[c].N++
				spent++
			}
		}
		for a := range cfg.Arms {
			vars, err := estimate.ResidualVariances(grid, paired[a])
			if err != nil {
				return rep, err
			}
			for h := range H {
				cells[a*H+h].Var = vars[h]
			}
		}
	}
	for a, arm := range cfg.Arms {
		out := Arm{Arm: arm, RealPerStratum: make([]int, H)}
		for h := range H {
			out.RealPerStratum[h] = cells[a*H+h].N
		}
		// The real episodes were drawn per stratum, not i.i.d., so the
		// plain real-only mean and control variate do not apply; the
		// baseline is the stratified mean of the real outcomes alone.
		strat, err := estimate.Stratified(grid, weights, paired[a], imagined[a], cfg.Options)
		if err != nil {
			return rep, fmt.Errorf("safety: %s: %w", arm, err)
		}
		base, err := realOnlyStratified(grid, weights, paired[a], cfg.Options)
		if err != nil {
			return rep, fmt.Errorf("safety: %s: %w", arm, err)
		}
		out.Estimates = append(out.Estimates, base, strat)
		rep.Arms = append(rep.Arms, out)
	}
	return rep, nil
}

// NameStratifiedRealOnly names the stratified mean of real outcomes alone.
const NameStratifiedRealOnly = "stratified_real_only"

// realOnlyStratified is Σ_h w_h mean_h(f) with its interval: the stratified
// estimator given no world-model information (a constant feature and no
// imagined episodes, so every coefficient is 0).
func realOnlyStratified(grid scenarios.Grid, w []float64, paired []estimate.Paired, opts estimate.Options) (estimate.Result, error) {
	blind := make([]estimate.Paired, len(paired))
	for i, p := range paired {
		blind[i] = estimate.Paired{Critical: p.Critical, Real: p.Real, Features: []float64{0}}
	}
	r, err := estimate.Stratified(grid, w, blind, nil, opts)
	r.Estimator = NameStratifiedRealOnly
	notes := []string{"stratified mean of the real outcomes, no world-model information"}
	for _, n := range r.Notes {
		// Its coefficient fits fail by construction; other notes stand.
		if !strings.Contains(n, "coefficient") {
			notes = append(notes, n)
		}
	}
	r.Notes = notes
	return r, err
}
