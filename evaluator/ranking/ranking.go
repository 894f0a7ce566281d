// Package ranking ranks policy arms (policy x steering context) from their
// episode outcomes, with honest uncertainty: per-arm success rates with
// Wilson intervals, mean max rewards with Student-t intervals, the
// probability that each arm's true success rate exceeds each other's, and
// rank intervals.
//
// It is pure: outcomes in, numbers out, no I/O; every random draw comes
// from a generator seeded by Options.Seed, so a result is reproducible.
//
// How the probabilities are made: each arm's true success rate gets the
// Beta(1+successes, 1+failures) posterior (uniform prior), arms
// independently. Options.Draws joint draws of all arms' rates give
// P(i beats j) as the fraction of draws with rate_i > rate_j, and each
// arm's rank interval as the central Confidence range of its rank across
// the draws (rank 1 is best). Treating arms as independent ignores that
// arms evaluated on the same seeds share the seeds' difficulty; that makes
// the probabilities conservative (closer to 1/2) when outcomes are paired,
// never overconfident.
package ranking

import (
	"dreamrank/foundation/stat"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// ErrBadInput: arms without episodes, rewards that do not match outcomes,
// options out of range.
var ErrBadInput = errors.New("ranking: bad input")

// Arm is one policy under one steering context, with its episodes'
// outcomes.
type Arm struct {
	// Name labels the arm in reports; Policy and Context say what it is
	// (optional, carried through).
	Name    string
	Policy  string
	Context string
	// Success is each episode's success.
	Success []bool
	// MaxReward is each episode's max reward (the PushT score), in the
	// same order; nil when unknown.
	MaxReward []float64
}

// Options tune Rank; zero values take the defaults.
type Options struct {
	// Confidence of every interval; default 0.95.
	Confidence float64
	// Draws of the posterior Monte Carlo; default 20000 (the standard error
	// of a probability is then at most 0.0035).
	Draws int
	// Seed of the random generator; default 1.
	Seed uint64
}

func (o *Options) defaults() error {
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.Draws == 0 {
		o.Draws = 20000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if !(o.Confidence > 0 && o.Confidence < 1) || o.Draws < 1 {
		return fmt.Errorf("%w: confidence %v, draws %d", ErrBadInput, o.Confidence, o.Draws)
	}
	return nil
}

// Number and Interval are the foundation's (foundation/stat): every
// interval the project reports has one JSON form.
type (
	Number   = stat.Number
	Interval = stat.Interval
)

// ArmResult is one arm's summary.
type ArmResult struct {
	Name        string   `json:"name"`
	Policy      string   `json:"policy,omitempty"`
	Context     string   `json:"context,omitempty"`
	Episodes    int      `json:"episodes"`
	Successes   int      `json:"successes"`
	SuccessRate float64  `json:"success_rate"`
	SuccessCI   Interval `json:"success_ci"` // Wilson score
	// MeanMaxReward and its t interval; NaN when rewards are unknown.
	MeanMaxReward Number   `json:"mean_max_reward"`
	MaxRewardCI   Interval `json:"max_reward_ci"`
	// Rank is 1 + the number of arms with a higher observed success rate
	// (ties share a rank); RankCI is the central Confidence range of the
	// arm's rank under the posterior (1 best).
	Rank         int     `json:"rank"`
	RankLo       int     `json:"rank_lo"`
	RankHi       int     `json:"rank_hi"`
	ExpectedRank float64 `json:"expected_rank"`
	// PBest is the posterior probability that this arm has the highest
	// success rate.
	PBest float64 `json:"p_best"`
}

// Result is a ranking of arms.
type Result struct {
	// Arms in the order given.
	Arms []ArmResult `json:"arms"`
	// Order lists arm indices best first: by observed success rate, then
	// mean max reward, then name.
	Order []int `json:"order"`
	// PBeats[i][j] is the posterior probability that arm i's true success
	// rate exceeds arm j's (0 on the diagonal).
	PBeats     [][]float64 `json:"p_beats"`
	Confidence float64     `json:"confidence"`
	Draws      int         `json:"draws"`
	Seed       uint64      `json:"seed"`
}

// Rank summarises and ranks the arms.
func Rank(arms []Arm, opts Options) (Result, error) {
	if err := opts.defaults(); err != nil {
		return Result{}, err
	}
	if len(arms) == 0 {
		return Result{}, fmt.Errorf("%w: no arms", ErrBadInput)
	}
	z := stat.NormalQuantile(1 - (1-opts.Confidence)/2)
	res := Result{Arms: make([]ArmResult, len(arms)), Confidence: opts.Confidence, Draws: opts.Draws, Seed: opts.Seed}
	for i, a := range arms {
		n := len(a.Success)
		if n == 0 {
			return Result{}, fmt.Errorf("%w: arm %q has no episodes", ErrBadInput, a.Name)
		}
		if a.MaxReward != nil && len(a.MaxReward) != n {
			return Result{}, fmt.Errorf("%w: arm %q has %d rewards for %d episodes", ErrBadInput, a.Name, len(a.MaxReward), n)
		}
		k := 0
		for _, s := range a.Success {
			if s {
				k++
			}
		}
		r := ArmResult{Name: a.Name, Policy: a.Policy, Context: a.Context, Episodes: n, Successes: k, SuccessRate: float64(k) / float64(n)}
		lo, hi := stat.Wilson(k, n, z)
		r.SuccessCI = Interval{Lo: Number(lo), Hi: Number(hi)}
		r.MeanMaxReward, r.MaxRewardCI = Number(math.NaN()), Interval{Lo: Number(math.NaN()), Hi: Number(math.NaN())}
		if a.MaxReward != nil {
			m, ci := stat.MeanT(a.MaxReward, opts.Confidence)
			r.MeanMaxReward, r.MaxRewardCI = Number(m), ci
		}
		res.Arms[i] = r
	}
	res.Order = make([]int, len(arms))
	for i := range res.Order {
		res.Order[i] = i
	}
	sort.SliceStable(res.Order, func(x, y int) bool {
		a, b := res.Arms[res.Order[x]], res.Arms[res.Order[y]]
		if a.SuccessRate != b.SuccessRate {
			return a.SuccessRate > b.SuccessRate
		}
		if a.MeanMaxReward != b.MeanMaxReward && !math.IsNaN(float64(a.MeanMaxReward)) && !math.IsNaN(float64(b.MeanMaxReward)) {
			return a.MeanMaxReward > b.MeanMaxReward
		}
		return a.Name < b.Name
	})
	for i := range res.Arms {
		better := 0
		for j := range res.Arms {
			if res.Arms[j].SuccessRate > res.Arms[i].SuccessRate {
				better++
			}
		}
		res.Arms[i].Rank = better + 1
	}
	res.posterior(opts)
	return res, nil
}

// posterior fills PBeats, rank intervals, expected ranks and PBest from
// joint draws of the Beta posteriors.
func (res *Result) posterior(opts Options) {
	m := len(res.Arms)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	wins := make([][]int, m)
	for i := range wins {
		wins[i] = make([]int, m)
	}
	ranks := make([][]int, m)
	for i := range ranks {
		ranks[i] = make([]int, opts.Draws)
	}
	best := make([]int, m)
	draw := make([]float64, m)
	for d := range opts.Draws {
		for i, a := range res.Arms {
			draw[i] = stat.Beta(rng, float64(1+a.Successes), float64(1+a.Episodes-a.Successes))
		}
		top := 0
		for i := range m {
			rank := 1
			for j := range m {
				if draw[i] > draw[j] {
					wins[i][j]++
				} else if draw[j] > draw[i] {
					rank++
				}
			}
			ranks[i][d] = rank
			if draw[i] > draw[top] {
				top = i
			}
		}
		best[top]++
	}
	alpha := (1 - opts.Confidence) / 2
	res.PBeats = make([][]float64, m)
	for i := range m {
		res.PBeats[i] = make([]float64, m)
		for j := range m {
			res.PBeats[i][j] = float64(wins[i][j]) / float64(opts.Draws)
		}
		slices.Sort(ranks[i])
		sum := 0
		for _, r := range ranks[i] {
			sum += r
		}
		a := &res.Arms[i]
		a.ExpectedRank = float64(sum) / float64(opts.Draws)
		a.RankLo = ranks[i][int(math.Floor(alpha*float64(opts.Draws-1)))]
		a.RankHi = ranks[i][int(math.Ceil((1-alpha)*float64(opts.Draws-1)))]
		a.PBest = float64(best[i]) / float64(opts.Draws)
	}
}
