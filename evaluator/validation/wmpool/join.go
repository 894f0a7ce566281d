package wmpool

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"

	"dreamrank/evaluator/validation"
)

// ErrJoin is returned for pools that cannot be joined.
var ErrJoin = errors.New("wmpool: cannot join pools")

// Join combines pools built by Build with the same arm, world model and
// features, so that long builds can be split across processes and grown
// later:
//   - pools over different scenario seeds are concatenated, in seed order;
//   - the same seed in several pools (builds with disjoint perturbed draws,
//     DrawSeeds) is one initial condition whose ens_* features become the
//     mean over every imagined episode of it, the model's own rollout
//     counted once: the first pool's is kept (its pred_* features), the
//     others' are taken out of their means. Builds batched differently, or
//     run on other CPUs (other BLAS kernels), can roll the model out a
//     little differently (floating-point sums in another order), so their
//     own rollouts need not agree; nor need their real outcomes when the
//     policy is a network (its actions differ as little, and a closed loop
//     can carry that to the zone's edge): the first pool's is kept and the
//     description counts the seeds where they differed.
//
// Pools of another policy, horizon or world model (as their descriptions
// name them) or another scenario (other critical variables of a seed) are
// refused. Every pool needs its Seeds, and its DrawSeeds when it has ens_*
// features (pools of builds without them can be given them by hand).
func Join(pools ...validation.Pool) (validation.Pool, error) {
	if len(pools) == 0 {
		return validation.Pool{}, fmt.Errorf("%w: no pools", ErrJoin)
	}
	first := pools[0]
	ens := len(first.FeatureNames) == len(FeatureNames)+len(EnsembleFeatureNames)
	bySeed := map[int64]*joined{}
	realDiffer := 0
	for i, p := range pools {
		if !slices.Equal(p.FeatureNames, first.FeatureNames) || !slices.Equal(p.CriticalNames, first.CriticalNames) {
			return validation.Pool{}, fmt.Errorf("%w: pool %d has other features or critical variables", ErrJoin, i)
		}
		if a, b := builtBy(first.Description), builtBy(p.Description); a != b {
			return validation.Pool{}, fmt.Errorf("%w: pool %d was built by %q, pool 0 by %q", ErrJoin, i, b, a)
		}
		if len(p.Seeds) != len(p.Records) {
			return validation.Pool{}, fmt.Errorf("%w: pool %d has %d seeds for %d records", ErrJoin, i, len(p.Seeds), len(p.Records))
		}
		if ens && len(p.DrawSeeds) == 0 {
			return validation.Pool{}, fmt.Errorf("%w: pool %d has ens_* features but no draw seeds", ErrJoin, i)
		}
		for j, seed := range p.Seeds {
			r := p.Records[j]
			a, ok := bySeed[seed]
			if !ok {
				bySeed[seed] = &joined{rec: clone(r), draws: set(p.DrawSeeds)}
				continue
			}
			if !ens {
				return validation.Pool{}, fmt.Errorf("%w: seed %d in two pools without ensemble features", ErrJoin, seed)
			}
			if r.Real != a.rec.Real {
				realDiffer++
			}
			if err := a.add(r, p.DrawSeeds, seed); err != nil {
				return validation.Pool{}, err
			}
		}
	}
	seeds := slices.Sorted(maps.Keys(bySeed))
	out := first
	out.Records, out.Seeds, out.DrawSeeds = nil, seeds, nil
	drawSets := map[string]bool{}
	for _, s := range seeds {
		a := bySeed[s]
		out.Records = append(out.Records, a.rec)
		ds := slices.Sorted(maps.Keys(a.draws))
		drawSets[fmt.Sprint(ds)] = true
		out.DrawSeeds = ds
	}
	if len(drawSets) > 1 {
		return validation.Pool{}, fmt.Errorf("%w: initial conditions ended with different draws (%d sets): join pools over the same seeds", ErrJoin, len(drawSets))
	}
	out.Description = fmt.Sprintf("%s; joined from %d pools: %d initial conditions", first.Description, len(pools), len(seeds))
	if ens {
		out.Description += fmt.Sprintf(", ens_* features over %d imagined episodes each (the model and perturbed draws %v)", 1+len(out.DrawSeeds), out.DrawSeeds)
	}
	if realDiffer > 0 {
		out.Description += fmt.Sprintf("; the real outcome differed between pools for %d seeds, the first pool's kept", realDiffer)
	}
	return out, out.Validate()
}

// joined is one initial condition being joined.
type joined struct {
	rec   validation.Record
	draws map[int]bool // perturbed draw seeds already averaged in
}

// add averages another pool's record of the same seed into a's ens_*
// features.
func (a *joined) add(r validation.Record, drawSeeds []int, seed int64) error {
	nf := len(FeatureNames)
	// The critical variables are the scenario's draw from the seed, in
	// plain Go: equal bit for bit on every machine unless the scenario is
	// another. The real outcome may differ (Join's doc).
	if !slices.Equal(r.Critical, a.rec.Critical) {
		return fmt.Errorf("%w: seed %d has other critical variables (another scenario?)", ErrJoin, seed)
	}
	for _, d := range drawSeeds {
		if a.draws[d] {
			return fmt.Errorf("%w: seed %d: draw seed %d in two pools", ErrJoin, seed, d)
		}
	}
	// Each pool's ens_* mean covers its own rollout of the model and its
	// draws; r's own rollout is taken out, a's stays.
	na, nb := float64(1+len(a.draws)), float64(1+len(drawSeeds))
	for k := range nf {
		sum := na*a.rec.Features[nf+k] + nb*r.Features[nf+k] - r.Features[k]
		a.rec.Features[nf+k] = sum / (na + nb - 1)
	}
	for _, d := range drawSeeds {
		a.draws[d] = true
	}
	return nil
}

// builtBy is the policy, horizon and world model that a pool's description
// (Build's) names, or "" for a description that does not name them.
func builtBy(description string) string {
	m := builtByRE.FindStringSubmatch(description)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("policy %s, horizon %s, world model %s", m[1], m[2], m[3])
}

var builtByRE = regexp.MustCompile(`policy (.+) on both sides, closed loop, horizon (\d+) steps: .*imagined = world model (\S+) from`)

func clone(r validation.Record) validation.Record {
	r.Critical, r.Features = slices.Clone(r.Critical), slices.Clone(r.Features)
	return r
}

func set(xs []int) map[int]bool {
	m := map[int]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}
