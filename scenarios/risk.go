package scenarios

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrFeatures is returned when world-model features a function needs are
// missing.
var ErrFeatures = errors.New("scenarios: world-model features missing")

// SafetyRisk returns a scorer of a keep-out-zone episode's world-model
// features, found by name in names: the larger the score, the likelier the
// world model makes a violation. It orders episodes for the two-phase
// estimator's strata (estimate.ScoreStrata), so only the order matters, and
// it reads predictions only, never an outcome.
//
// The order, fixed from what the features mean rather than fitted:
// predicted violations above predicted misses; among violations, earlier
// ones first (pred_first_violation_frac: the further an imagined rollout
// runs, the further it has drifted); among misses, the closer the
// predicted approach to the zone, the riskier (pred_min_clearance_px). An
// ensemble's violation fraction (ens_violation), when present, ranks above
// all of that, which then only orders episodes within each fraction.
// Names it needs: pred_violation, or ens_violation; the others are used
// when present.
func SafetyRisk(names []string) (func(features []float64) float64, error) {
	at := func(n string) int { return slices.Index(names, n) }
	viol, ens, first, clear := at("pred_violation"), at("ens_violation"), at("pred_first_violation_frac"), at("pred_min_clearance_px")
	if viol < 0 && ens < 0 {
		return nil, fmt.Errorf("%w: no pred_violation or ens_violation among %v", ErrFeatures, names)
	}
	return func(f []float64) float64 {
		s := 0.0
		if viol >= 0 {
			if f[viol] >= 0.5 {
				s = 1
				if first >= 0 {
					s += 1 - math.Max(0, math.Min(1, f[first]))
				}
			} else if clear >= 0 {
				s = 1 - math.Max(0, math.Min(120, f[clear]))/120
			}
		}
		if ens >= 0 {
			s += 100 * f[ens] // the first draw's part is below 2: any fraction step over 1/50 dominates it
		}
		return s
	}, nil
}

// SafetyChance returns the world model's predicted chance that a
// keep-out-zone episode violates, from its features found by name in
// names, for allocating real episodes (estimate.TwoPhase.SetPrior). With
// ensemble imagined episodes per initial condition, k of them violating
// (ens_violation = k/ensemble; pred_violation when ensemble is 1), it is
// (k + ½)/(ensemble + 1): the posterior mean under Jeffreys' prior if the
// real episode were one more draw like them, so a lone rollout says 1/4 or
// 3/4 and an ensemble says more.
func SafetyChance(names []string, ensemble int) (func(features []float64) float64, error) {
	if ensemble < 1 {
		return nil, fmt.Errorf("%w: ensemble of %d", ErrFeatures, ensemble)
	}
	name := "ens_violation"
	if ensemble == 1 {
		name = "pred_violation"
	}
	i := slices.Index(names, name)
	if i < 0 {
		return nil, fmt.Errorf("%w: no %s among %v", ErrFeatures, name, names)
	}
	k := float64(ensemble)
	return func(f []float64) float64 {
		return (math.Max(0, math.Min(1, f[i]))*k + 0.5) / (k + 1)
	}, nil
}
