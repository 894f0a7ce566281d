package validation

import (
	"math"
	"math/rand/v2"

	"dreamrank/scenarios"
)

// SyntheticConfig sets the synthetic pool; DefaultSynthetic gives the
// documented defaults (a zero field means zero, except N).
type SyntheticConfig struct {
	N    int    // records (0: 20000)
	Seed uint64 // generator seed; scenario seeds are 0..N-1
	// WMNoisePx is the world model's error on the minimum clearance for a
	// block that needs no rotation, px; it doubles at a half-turn.
	WMNoisePx float64
	// WMBiasPx is the world model's optimism about clearance, px.
	WMBiasPx float64
	// WMLostRate is the fraction of episodes the world model gets wrong
	// altogether (its clearance is that of an unrelated episode).
	WMLostRate float64
}

// DefaultSynthetic is the synthetic pool of the README's numbers: 20,000
// records, a world model 12 px off on clearance (24 px at a half-turn),
// 4 px optimistic, lost in 8% of episodes. These were chosen before any
// estimator was run, from the committed world model's errors (agent
// 0.1 px open loop, block 8 px after 8 steps and unreadable after 32):
// closed-loop clearance errors of a few block-errors are plausible.
func DefaultSynthetic() SyntheticConfig {
	return SyntheticConfig{N: 20000, WMNoisePx: 12, WMBiasPx: 4, WMLostRate: 0.08}
}

// SyntheticFeatureNames are the world-model features of a synthetic record.
var SyntheticFeatureNames = []string{"pred_violation", "pred_min_clearance_px", "pred_final_coverage"}

// Synthetic builds a pool on the PushT safety scenario (scenarios.PushTSafety,
// seeds 0..N-1, its critical variables and SafetyStrata) with a model of the
// outcomes in place of rollouts. It stands in until the world model and the
// simulator produce real pairs; its numbers say how the estimators behave
// under this structure, not how good any world model is.
//
// Real episode: the pusher's lateral swing off the straight block-to-goal
// path is s = (10 + 35·angle/π + 0.08·distance)·E px, with E log-normal
// (σ 0.5) for episode-to-episode variation, and the true minimum clearance
// to the zone is c = zone_path_distance - 40 - s + N(0, 8²) px (40 = zone
// radius + pusher radius). The real outcome is the violation c < 0.
//
// World model, for the same initial condition: predicted clearance
// ĉ = c + bias + N(0, σ²) with σ = WMNoisePx·(1 + angle/π), except that with
// probability WMLostRate it is the clearance of an independent episode from
// the same initial condition (the model lost track). Features: predicted
// violation ĉ < 0, ĉ clipped to [-40, 120] px (a judge reads distances near
// the zone, not across the table), and a predicted final coverage that
// depends on the initial angle and distance plus noise and carries almost
// no information about violations.
func Synthetic(cfg SyntheticConfig) Pool {
	if cfg.N == 0 {
		cfg.N = 20000
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5157))
	sc := scenarios.PushTSafety{}
	p := Pool{
		Name:          "synthetic-pusht-safety",
		Description:   "synthetic paired outcomes on the PushT keep-out-zone scenario (see validation.Synthetic)",
		CriticalNames: scenarios.SafetyCriticalNames,
		FeatureNames:  SyntheticFeatureNames,
		Strata:        scenarios.SafetyStrata(),
		Records:       make([]Record, cfg.N),
	}
	const reach = scenarios.ZoneRadius + 15
	for i := range p.Records {
		in := sc.Sample(int64(i))
		zd, dist, ang := in.Critical[0], in.Critical[2], in.Critical[3]
		swing := func() float64 {
			return (10 + 35*ang/math.Pi + 0.08*dist) * math.Exp(0.5*rng.NormFloat64())
		}
		c := zd - reach - swing() + 8*rng.NormFloat64()
		pred := c
		if rng.Float64() < cfg.WMLostRate {
			pred = zd - reach - swing() + 8*rng.NormFloat64()
		}
		pred += cfg.WMBiasPx + cfg.WMNoisePx*(1+ang/math.Pi)*rng.NormFloat64()
		real, pv := 0.0, 0.0
		if c < 0 {
			real = 1
		}
		if pred < 0 {
			pv = 1
		}
		cov := math.Max(0, math.Min(1, 0.95-0.1*ang/math.Pi-0.0004*dist+0.08*rng.NormFloat64()))
		p.Records[i] = Record{
			Critical: in.Critical,
			Real:     real,
			Features: []float64{pv, math.Max(-40, math.Min(120, pred)), cov},
		}
	}
	return p
}
