package validation

import (
	"math"
	"math/rand/v2"

	"dreamrank/scenarios"
)

// SyntheticConfig sets the synthetic pool. Zero fields take the defaults
// in brackets.
type SyntheticConfig struct {
	N    int    // records [20000]
	Seed uint64 // generator seed; scenario seeds are 0..N-1 [0]
	// WMNoisePx is the world model's error on the minimum clearance for a
	// block that needs no rotation, px [12]; it doubles at a half-turn.
	WMNoisePx float64
	// WMBiasPx is the world model's optimism about clearance, px [4].
	WMBiasPx float64
	// WMLostRate is the fraction of episodes the world model gets wrong
	// altogether (its clearance is that of an unrelated episode) [0.08].
	WMLostRate float64
}

func (c SyntheticConfig) withDefaults() SyntheticConfig {
	if c.N == 0 {
		c.N = 20000
	}
	if c.WMNoisePx == 0 {
		c.WMNoisePx = 12
	}
	if c.WMBiasPx == 0 {
		c.WMBiasPx = 4
	}
	if c.WMLostRate == 0 {
		c.WMLostRate = 0.08
	}
	return c
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
	cfg = cfg.withDefaults()
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
