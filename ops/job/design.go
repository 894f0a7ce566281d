package job

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"math"
	"slices"

	"dreamrank/evaluator/estimate"
	"dreamrank/scenarios"
)

// DefaultRounds is how many rounds an arm's real budget is spent in: the
// first spreads it evenly over the strata, the later ones by Neyman
// allocation on the real outcomes seen so far.
const DefaultRounds = 2

// DesignSeed is the seed of an arm's two-phase design (its sampling order
// within strata): an FNV-1a hash of the job id, scenario and arm, so a
// restarted server chooses the same seeds.
func DesignSeed(jobID, scenario, arm string) uint64 {
	h := fnv.New64a()
	for _, s := range []string{jobID, scenario, arm} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// DesignScores gives each of an arm's imagined episodes its phase-one
// score, from the world model's prediction alone (larger: likelier event):
// for violation scenarios scenarios.SafetyRisk of its features, for success
// scenarios its imagined success plus its max reward.
func DesignScores(info ScenarioInfo, im ArmEpisodes) ([]float64, error) {
	out := make([]float64, len(im.Seeds))
	if cmp.Or(info.Event, EventSuccess) == EventViolation {
		risk, err := scenarios.SafetyRisk(info.FeatureNames)
		if err != nil {
			return nil, err
		}
		if len(im.Features) != len(im.Seeds) {
			return nil, fmt.Errorf("%w: arm %s: %d features for %d seeds", ErrUnpaired, im.Arm, len(im.Features), len(im.Seeds))
		}
		for i, f := range im.Features {
			if len(f) != len(info.FeatureNames) {
				return nil, fmt.Errorf("%w: arm %s seed %d: %d features, want %d", ErrUnpaired, im.Arm, im.Seeds[i], len(f), len(info.FeatureNames))
			}
			out[i] = risk(f)
		}
		return out, nil
	}
	if len(im.Success) != len(im.Seeds) || len(im.MaxReward) != len(im.Seeds) {
		return nil, fmt.Errorf("%w: arm %s: outcomes missing", ErrUnpaired, im.Arm)
	}
	for i := range im.Seeds {
		out[i] = b2f(im.Success[i]) + im.MaxReward[i]
	}
	return out, nil
}

// Design is one arm's two-phase design (estimate.TwoPhase) for a job's
// real budget: phase one is the arm's imagined seeds, cut into
// estimate.TwoPhaseStrata strata by DesignScores; its rounds choose the seeds to play
// for real. It only keeps books: the caller plays each round's seeds and
// records what came back. Every choice follows from the job id, scenario,
// arm, imagined outcomes and the real outcomes recorded, so replaying the
// same rounds gives the same seeds.
//
// Phase one is the arm's first H·⌊N/H⌋ imagined seeds (the others, fewer
// than H, drawn from the same distribution, are only left out of the
// design), so every stratum has the same size. The first round then takes
// the same number from each stratum, a simple random sample within each:
// every phase-one seed has the same chance to be in it, a proportional
// (self-weighting) stratified sample. Share is that sample; the estimators
// that assume their real episodes are a simple random sample use it alone
// (see CalibrateDesigns).
//
// When the job imagined each seed in world-model draws too (info.Draws,
// a violation scenario), the design also gets the world model's chance of
// a violation per seed (scenarios.SafetyChance over the 1+Draws
// rollouts; estimate.TwoPhase.SetPrior): the first round then puts its
// episodes beyond 2 per stratum where the ensemble disagrees, and later
// rounds shrink the observed variances towards the predicted ones. The
// first round is then no longer balanced, and Share is the same number
// from each stratum, the smallest any stratum got. Without draws there is
// no prior.
type Design struct {
	Arm     string
	event   string
	seeds   []int64 // phase-one seeds, by unit
	unit    map[int64]int
	tp      *estimate.TwoPhase
	budget  int   // real episodes in all, at most len(seeds)
	rounds  []int // budget of each round
	played  [][]int64
	share   []int64
	real    RealEpisodes
	small   bool // budget below 2: no strata, no estimate
	records int  // Record calls: one per round played
	draws   int  // world-model draws behind the features (a prior when > 0)
}

// NewDesign starts arm im's design for a real budget in rounds rounds
// (DefaultRounds when 0).
func NewDesign(info ScenarioInfo, jobID, scenario string, im ArmEpisodes, budget, rounds int) (*Design, error) {
	if rounds <= 0 {
		rounds = DefaultRounds
	}
	if budget < 1 || len(im.Seeds) == 0 {
		return nil, fmt.Errorf("%w: arm %s: real budget %d over %d imagined seeds", ErrBadSpec, im.Arm, budget, len(im.Seeds))
	}
	scores, err := DesignScores(info, im)
	if err != nil {
		return nil, err
	}
	H := estimate.TwoPhaseStrata(budget, len(im.Seeds))
	n := H * (len(im.Seeds) / H)
	strata, err := estimate.ScoreStrata(scores[:n], H)
	if err != nil {
		return nil, err
	}
	tp, err := estimate.NewTwoPhase(strata, H, DesignSeed(jobID, scenario, im.Arm))
	if err != nil {
		return nil, err
	}
	d := &Design{Arm: im.Arm, event: cmp.Or(info.Event, EventSuccess), seeds: slices.Clone(im.Seeds[:n]), unit: map[int64]int{},
		tp: tp, budget: min(budget, n), real: RealEpisodes{Arm: im.Arm}}
	if info.Draws > 0 && d.event == EventViolation {
		if err := setPrior(tp, info, im, n); err != nil {
			return nil, err
		}
		d.draws = info.Draws
	}
	for u, s := range d.seeds {
		if _, dup := d.unit[s]; dup {
			return nil, fmt.Errorf("%w: arm %s: seed %d imagined twice", ErrUnpaired, im.Arm, s)
		}
		d.unit[s] = u
	}
	d.small = d.budget < 2
	d.rounds = estimate.TwoPhaseRounds(d.budget, H, rounds)
	if d.small {
		d.rounds = []int{d.budget}
	}
	return d, nil
}

// setPrior gives tp the world model's chance of a violation for each of
// the first n imagined seeds, from the ensemble of 1+info.Draws rollouts
// (DesignScores has checked the features' shape).
func setPrior(tp *estimate.TwoPhase, info ScenarioInfo, im ArmEpisodes, n int) error {
	chance, err := scenarios.SafetyChance(info.FeatureNames, 1+info.Draws)
	if err != nil {
		return fmt.Errorf("job: design of %s: %w", im.Arm, err)
	}
	p := make([]float64, n)
	for u := range p {
		p[u] = chance(im.Features[u])
	}
	if err := tp.SetPrior(p); err != nil {
		return fmt.Errorf("job: design of %s: %w", im.Arm, err)
	}
	return nil
}

// Rounds is the number of rounds; Budget the real episodes in all.
func (d *Design) Rounds() int { return len(d.rounds) }
func (d *Design) Budget() int { return d.budget }

// Played is how many rounds were played (Next called).
func (d *Design) Played() int { return len(d.played) }

// Next returns the seeds of the next round, in seed order, and how many
// seeds the rounds so far chose in all; no seeds when every round was
// played. Record the round's real episodes before asking for the next.
func (d *Design) Next() ([]int64, int, error) {
	r := len(d.played)
	if r >= len(d.rounds) {
		return nil, d.chosen(), nil
	}
	if d.records < r {
		return nil, 0, fmt.Errorf("job: design of %s: round %d not recorded", d.Arm, r)
	}
	var seeds []int64
	if d.small {
		seeds = slices.Clone(d.seeds[:d.rounds[0]]) // no strata with one real episode: the first seed
	} else {
		units, err := d.tp.Next(d.rounds[r])
		if err != nil {
			return nil, 0, fmt.Errorf("job: design of %s, round %d: %w", d.Arm, r+1, err)
		}
		for _, u := range units {
			seeds = append(seeds, d.seeds[u])
		}
		slices.Sort(seeds)
	}
	d.played = append(d.played, seeds)
	if r == 0 {
		d.share = d.proportional()
	}
	return seeds, d.chosen(), nil
}

// chosen counts the seeds chosen in the rounds so far.
func (d *Design) chosen() int {
	n := 0
	for _, p := range d.played {
		n += len(p)
	}
	return n
}

// proportional is the first round's proportional share: from each stratum
// the same number of its first-round seeds, the first in its random
// sampling order (so a simple random sample within it). With strata of
// equal size, each phase-one seed is in it with the same probability.
func (d *Design) proportional() []int64 {
	if d.small {
		return slices.Clone(d.played[0])
	}
	chosen := d.tp.Chosen()
	m := math.MaxInt
	for _, c := range chosen {
		m = min(m, len(c))
	}
	var out []int64
	for _, c := range chosen {
		for _, u := range c[:m] {
			out = append(out, d.seeds[u])
		}
	}
	slices.Sort(out)
	return out
}

// Record records a round's real episodes, once per round played: each
// must be on a seed of the rounds played and not recorded before. Seeds
// the fleet could not play are simply absent.
func (d *Design) Record(r RealEpisodes) error {
	if d.records >= len(d.played) {
		return fmt.Errorf("job: design of %s: %d rounds played, %d recorded", d.Arm, len(d.played), d.records+1)
	}
	if r.Arm != d.Arm {
		return fmt.Errorf("%w: episodes of %s recorded in the design of %s", ErrUnpaired, r.Arm, d.Arm)
	}
	if len(r.Success) != len(r.Seeds) || len(r.MaxReward) != len(r.Seeds) || (d.event == EventViolation && len(r.Violated) != len(r.Seeds)) {
		return fmt.Errorf("%w: arm %s: %d seeds, %d successes, %d rewards, %d violations", ErrUnpaired, d.Arm, len(r.Seeds), len(r.Success), len(r.MaxReward), len(r.Violated))
	}
	for k, s := range r.Seeds {
		if !slices.ContainsFunc(d.played, func(p []int64) bool { return slices.Contains(p, s) }) {
			return fmt.Errorf("%w: arm %s: real episode on seed %d, which no round chose", ErrUnpaired, d.Arm, s)
		}
		if slices.Contains(d.real.Seeds, s) || slices.Contains(r.Seeds[:k], s) {
			return fmt.Errorf("%w: arm %s: seed %d recorded twice", ErrUnpaired, d.Arm, s)
		}
	}
	for k, s := range r.Seeds {
		y := b2f(r.Success[k])
		if d.event == EventViolation {
			y = b2f(r.Violated[k])
		}
		if !d.small {
			if err := d.tp.Record(d.unit[s], y); err != nil {
				return err
			}
		}
		d.real.Seeds = append(d.real.Seeds, s)
		d.real.Success = append(d.real.Success, r.Success[k])
		d.real.MaxReward = append(d.real.MaxReward, r.MaxReward[k])
		if d.event == EventViolation {
			d.real.Violated = append(d.real.Violated, r.Violated[k])
		}
	}
	d.real.Source = cmp.Or(d.real.Source, r.Source)
	d.records++
	return nil
}

// Real is every real episode recorded, the rounds' merged in order.
func (d *Design) Real() RealEpisodes {
	r := d.real
	r.Seeds, r.Success, r.MaxReward = slices.Clone(r.Seeds), slices.Clone(r.Success), slices.Clone(r.MaxReward)
	r.Violated = slices.Clone(r.Violated)
	return r
}

// ShareEpisodes is the real episodes on the first round's proportional
// share (Share), in the order recorded.
func (d *Design) ShareEpisodes() RealEpisodes {
	out := RealEpisodes{Arm: d.Arm, Source: d.real.Source}
	for k, s := range d.real.Seeds {
		if slices.Contains(d.share, s) {
			out.Seeds = append(out.Seeds, s)
			out.Success = append(out.Success, d.real.Success[k])
			out.MaxReward = append(out.MaxReward, d.real.MaxReward[k])
			if d.event == EventViolation {
				out.Violated = append(out.Violated, d.real.Violated[k])
			}
		}
	}
	return out
}

// Estimate is the two-phase estimate of the arm's event rate from the
// outcomes recorded.
func (d *Design) Estimate() (estimate.Result, error) {
	if d.small {
		return estimate.Result{}, fmt.Errorf("%w: a real budget of %d leaves no room for strata", estimate.ErrTooFew, d.budget)
	}
	return d.tp.Estimate(estimate.Options{})
}

// Summary is what the design did, for the result.
func (d *Design) Summary() DesignSummary {
	s := DesignSummary{Imagined: len(d.seeds), Rounds: slices.Clone(d.played), Share: slices.Clone(d.share), Prior: d.draws > 0}
	if !d.small {
		s.Strata = d.tp.Strata()
	}
	return s
}

// DesignSummary is an arm's two-phase design as the result shows it: the
// strata of its phase-one (imagined) seeds, the seeds each round played,
// and the first round's proportional share the real-only and
// control-variate estimates use. Prior says the allocation used the
// world model's predicted chances (a job with world-model draws).
type DesignSummary struct {
	Strata   int       `json:"strata"`
	Imagined int       `json:"imagined"`
	Rounds   [][]int64 `json:"rounds"`
	Share    []int64   `json:"share"`
	Prior    bool      `json:"prior,omitempty"`
}
