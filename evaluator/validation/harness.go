package validation

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/stat"

	"dreamrank/evaluator/estimate"
)

// Config sets a validation run. Zero fields take the defaults in brackets.
type Config struct {
	Experiments int   // repeated experiments per budget [500]
	Budgets     []int // real episodes per arm [20 50 100]
	Imagined    int   // imagined episodes per experiment [1000]
	Level       float64
	Seed        uint64
	// BootstrapReps for the small-sample intervals [1000].
	BootstrapReps int
	// Rounds of adaptive allocation for the stratified estimator [2]: the
	// first spends budget/Rounds proportionally to the stratum weights (at
	// least 2 per stratum), each next one Neyman-style on the residual
	// variances seen so far.
	Rounds int
	// Score orders imagined episodes by how likely the world model makes
	// the event, from their features alone, for the two-phase estimator's
	// strata [Features[0], the predicted outcome]; PhaseStrata is how many
	// equal-size strata it cuts the imagined sample into
	// [estimate.TwoPhaseStrata of each budget].
	Score       func(features []float64) float64
	PhaseStrata int
	// Chance, if set, is the world model's predicted chance of the event
	// from an episode's features; the two-phase design then allocates on
	// the variances it predicts (estimate.TwoPhase.SetPrior).
	Chance func(features []float64) float64
}

func (c Config) withDefaults() Config {
	if c.Experiments == 0 {
		c.Experiments = 500
	}
	if len(c.Budgets) == 0 {
		c.Budgets = []int{20, 50, 100}
	}
	if c.Imagined == 0 {
		c.Imagined = 1000
	}
	if c.Level == 0 {
		c.Level = 0.95
	}
	if c.BootstrapReps == 0 {
		c.BootstrapReps = 1000
	}
	if c.Rounds == 0 {
		c.Rounds = 2
	}
	if c.Score == nil {
		c.Score = func(f []float64) float64 { return f[0] }
	}
	return c
}

// Row is one estimator at one real budget over all experiments.
type Row struct {
	Estimator string `json:"estimator"`
	Budget    int    `json:"budget"`
	Imagined  int    `json:"imagined"`
	// Coverage is the fraction of experiments whose interval held the
	// truth; CoverageSE its Monte Carlo standard error.
	Coverage   float64 `json:"coverage"`
	CoverageSE float64 `json:"coverage_se"`
	MeanWidth  float64 `json:"mean_width"`
	Bias       float64 `json:"bias"`
	// MSE is the mean squared error around the truth over experiments.
	MSE float64 `json:"mse"`
	// RealOnlyVariance is the exact variance of the real-only mean at this
	// budget, pool variance / budget.
	RealOnlyVariance float64 `json:"real_only_variance"`
	// VarianceReduction is 1 - MSE/RealOnlyVariance and
	// EffectiveRealMultiplier RealOnlyVariance/MSE: how many times more real
	// episodes real-only would need for the same accuracy.
	VarianceReduction       float64 `json:"variance_reduction"`
	EffectiveRealMultiplier float64 `json:"effective_real_multiplier"`
	EquivalentRealEpisodes  float64 `json:"equivalent_real_episodes"`
	// MultiplierSE is the Monte Carlo standard error of
	// EffectiveRealMultiplier (delta method on the MSE): about 6% of it at
	// 500 experiments.
	MultiplierSE float64 `json:"multiplier_se"`
	// CeilingMultiplier is what the estimator's multiplier would be with
	// its coefficients known exactly and infinitely many imagined episodes,
	// from the whole pool: 1/(1-ρ²) of the predicted outcome for the control
	// variate, the outcome variance over the weighted within-stratum
	// residual variance of the per-stratum regression on all features for
	// the stratified estimator. It separates what the world model allows
	// from what the estimator achieves at this budget.
	CeilingMultiplier float64 `json:"ceiling_multiplier"`
	// Intervals counts the interval kinds used.
	Intervals map[estimate.Interval]int `json:"intervals"`
	// Failures counts experiments where the estimator returned an error
	// (they count as not covering).
	Failures int `json:"failures"`
}

// Report is a validation run.
type Report struct {
	Pool        string    `json:"pool"`
	Description string    `json:"description,omitempty"`
	Features    []string  `json:"features"`
	PoolSize    int       `json:"pool_size"`
	Truth       float64   `json:"truth"`
	TruthSource string    `json:"truth_source"`
	Experiments int       `json:"experiments"`
	Level       float64   `json:"level"`
	Strata      int       `json:"strata"`
	Weights     []float64 `json:"stratum_weights"`
	// Prior says the two-phase design was told the world model's predicted
	// chances (Config.Chance).
	Prior bool  `json:"prior,omitempty"`
	Rows  []Row `json:"rows"`
}

type tally struct {
	covered, failures int
	width, err, err2  float64
	err4              float64
	kinds             map[estimate.Interval]int
}

func (t *tally) add(r estimate.Result, err error, truth float64) {
	if t.kinds == nil {
		t.kinds = map[estimate.Interval]int{}
	}
	if err != nil {
		t.failures++
		return
	}
	if r.Covers(truth) {
		t.covered++
	}
	t.width += r.Width()
	d := r.Estimate - truth
	t.err += d
	t.err2 += d * d
	t.err4 += d * d * d * d
	t.kinds[r.Interval]++
}

// Estimators lists what Run compares, in report order.
var Estimators = []string{estimate.NameRealOnly, estimate.NameControlVariate, estimate.NameStratified, estimate.NameTwoPhase}

// Run performs cfg.Experiments experiments per budget. In each, real-only
// and the control variate get the same budget of real episodes drawn i.i.d.
// from the pool; the stratified estimator spends the same budget over
// strata in cfg.Rounds adaptive rounds (Allocate), drawing within each
// stratum; all share the same cfg.Imagined imagined episodes drawn i.i.d.
// The two-phase estimator (estimate.TwoPhase) instead runs its real
// episodes on initial conditions of that imagined sample, chosen in
// cfg.Rounds rounds within strata of cfg.Score, so its real outcomes are
// the pool records' behind the chosen imagined episodes.
// It checks ctx between experiments.
func Run(ctx context.Context, pool Pool, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	if err := pool.Validate(); err != nil {
		return Report{}, err
	}
	idx, w := pool.byStratum()
	truth, varF := pool.Truth(), pool.RealVariance()
	rep := Report{Pool: pool.Name, Description: pool.Description, Features: pool.FeatureNames, PoolSize: len(pool.Records), Truth: truth,
		TruthSource: "mean real outcome of the whole pool; experiments draw from the pool with replacement",
		Experiments: cfg.Experiments, Level: cfg.Level, Strata: len(w), Weights: w, Prior: cfg.Chance != nil}
	ceiling, err := ceilings(pool, w, varF, cfg)
	if err != nil {
		return Report{}, err
	}
	for _, n := range cfg.Budgets {
		tallies := map[string]*tally{}
		for _, name := range Estimators {
			tallies[name] = &tally{}
		}
		for e := range cfg.Experiments {
			if err := ctx.Err(); err != nil {
				return rep, fmt.Errorf("validation: %w", err)
			}
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(n)<<32|uint64(e)))
			opts := estimate.Options{Level: cfg.Level, BootstrapReps: cfg.BootstrapReps, Seed: rng.Uint64()}
			imagined := make([]estimate.Imagined, cfg.Imagined)
			drawn := make([]int, cfg.Imagined)
			for i := range imagined {
				drawn[i] = rng.IntN(len(pool.Records))
				imagined[i] = pool.Records[drawn[i]].imagined()
			}
			paired := make([]estimate.Paired, n)
			reals := make([]float64, n)
			for i := range paired {
				paired[i] = pool.Records[rng.IntN(len(pool.Records))].paired()
				reals[i] = paired[i].Real
			}
			r, err := estimate.RealOnly(reals, opts)
			tallies[estimate.NameRealOnly].add(r, err, truth)
			r, err = estimate.ControlVariate(paired, imagined, opts)
			tallies[estimate.NameControlVariate].add(r, err, truth)

			strat, err := stratifiedDraw(pool, idx, w, n, cfg.Rounds, rng)
			if err == nil {
				r, err = estimate.Stratified(pool.Strata, w, strat, imagined, opts)
			}
			tallies[estimate.NameStratified].add(r, err, truth)

			r, err = twoPhaseDraw(pool, drawn, n, cfg, rng.Uint64(), opts)
			tallies[estimate.NameTwoPhase].add(r, err, truth)
		}
		for _, name := range Estimators {
			t := tallies[name]
			ok := cfg.Experiments - t.failures
			row := Row{Estimator: name, Budget: n, Imagined: cfg.Imagined, Failures: t.failures, Intervals: t.kinds,
				RealOnlyVariance: varF / float64(n), CeilingMultiplier: ceiling[name]}
			if name == estimate.NameRealOnly {
				row.Imagined = 0
			}
			row.Coverage = float64(t.covered) / float64(cfg.Experiments)
			row.CoverageSE = math.Sqrt(row.Coverage * (1 - row.Coverage) / float64(cfg.Experiments))
			if ok > 0 {
				row.MeanWidth = t.width / float64(ok)
				row.Bias = t.err / float64(ok)
				row.MSE = t.err2 / float64(ok)
			}
			if row.MSE > 0 {
				row.VarianceReduction = 1 - row.MSE/row.RealOnlyVariance
				row.EffectiveRealMultiplier = row.RealOnlyVariance / row.MSE
				row.EquivalentRealEpisodes = row.EffectiveRealMultiplier * float64(n)
				sdSq := math.Sqrt(math.Max(0, t.err4/float64(ok)-row.MSE*row.MSE))
				row.MultiplierSE = row.EffectiveRealMultiplier * sdSq / math.Sqrt(float64(ok)) / row.MSE
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	return rep, nil
}

// ceilings computes Row.CeilingMultiplier per estimator from the pool.
func ceilings(pool Pool, w []float64, varF float64, cfg Config) (map[string]float64, error) {
	f := make([]float64, len(pool.Records))
	g := make([]float64, len(pool.Records))
	paired := make([]estimate.Paired, len(pool.Records))
	for i, r := range pool.Records {
		f[i], g[i], paired[i] = r.Real, r.Features[0], r.paired()
	}
	out := map[string]float64{estimate.NameRealOnly: 1}
	if rho := stat.Correlation(f, g, nil); !math.IsNaN(rho) {
		out[estimate.NameControlVariate] = 1 / (1 - rho*rho)
	}
	vars, err := estimate.ResidualVariances(pool.Strata, paired)
	if err != nil {
		return nil, err
	}
	within := 0.0
	for h, v := range vars {
		if w[h] > 0 {
			within += w[h] * v
		}
	}
	if within > 0 {
		out[estimate.NameStratified] = varF / within
	}
	if c := twoPhaseCeiling(pool, varF, cfg); c > 0 {
		out[estimate.NameTwoPhase] = c
	}
	return out, nil
}

// roundBudget is what round of rounds spends of n real episodes, spent of
// them already: an equal share of what is left (all of it in the last
// round), at least need, at most what is left.
func roundBudget(n, spent, round, rounds, need int) int {
	b := (n - spent) / (rounds - round)
	if round == rounds-1 {
		b = n - spent
	}
	return min(max(b, need), n-spent)
}

// stratifiedDraw spends n real episodes over strata in rounds with
// Allocate, drawing each episode from its stratum's records.
func stratifiedDraw(pool Pool, idx [][]int, w []float64, n, rounds int, rng *rand.Rand) ([]estimate.Paired, error) {
	cells := make([]estimate.Cell, len(w))
	for h := range cells {
		cells[h] = estimate.Cell{Stratum: h, Weight: w[h], Var: math.NaN()}
		if len(idx[h]) == 0 {
			cells[h].Weight = 0
		}
	}
	var out []estimate.Paired
	spent := 0
	for round := range rounds {
		// The first round must reach 2 episodes per stratum.
		need := 0
		for _, c := range cells {
			if c.Weight > 0 {
				need += max(0, 2-c.N)
			}
		}
		budget := roundBudget(n, spent, round, rounds, need)
		add, err := estimate.Allocate(cells, budget, 2)
		if err != nil {
			return nil, err
		}
		for h, a := range add {
			for range a {
				out = append(out, pool.Records[idx[h][rng.IntN(len(idx[h]))]].paired())
			}
			cells[h].N += a
			spent += a
		}
		vars, err := estimate.ResidualVariances(pool.Strata, out)
		if err != nil {
			return nil, err
		}
		for h := range cells {
			cells[h].Var = vars[h]
		}
	}
	return out, nil
}

// SortRows orders rows by budget, then estimator in Estimators order.
func SortRows(rows []Row) {
	order := map[string]int{}
	for i, n := range Estimators {
		order[n] = i
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Budget != rows[j].Budget {
			return rows[i].Budget < rows[j].Budget
		}
		return order[rows[i].Estimator] < order[rows[j].Estimator]
	})
}

// twoPhaseDraw is one experiment of the two-phase design: the imagined
// sample drawn (pool record indices) is phase one; real episodes are run,
// in cfg.Rounds rounds, on the units TwoPhase chooses.
func twoPhaseDraw(pool Pool, drawn []int, n int, cfg Config, seed uint64, opts estimate.Options) (estimate.Result, error) {
	scores := make([]float64, len(drawn))
	for i, k := range drawn {
		scores[i] = cfg.Score(pool.Records[k].Features)
	}
	H := cmp.Or(cfg.PhaseStrata, estimate.TwoPhaseStrata(n, len(drawn)))
	strata, err := estimate.ScoreStrata(scores, H)
	if err != nil {
		return estimate.Result{}, err
	}
	d, err := estimate.NewTwoPhase(strata, H, seed)
	if err != nil {
		return estimate.Result{}, err
	}
	if cfg.Chance != nil {
		chance := make([]float64, len(drawn))
		for i, k := range drawn {
			chance[i] = cfg.Chance(pool.Records[k].Features)
		}
		if err := d.SetPrior(chance); err != nil {
			return estimate.Result{}, err
		}
	}
	for _, budget := range estimate.TwoPhaseRounds(n, H, cfg.Rounds) {
		units, err := d.Next(budget)
		if err != nil {
			return estimate.Result{}, err
		}
		for _, u := range units {
			if err := d.Record(u, pool.Records[drawn[u]].Real); err != nil {
				return estimate.Result{}, err
			}
		}
	}
	return d.Estimate(opts)
}

// twoPhaseCeiling is the two-phase estimator's multiplier with infinitely
// many imagined episodes and Neyman allocation on the true stratum
// variances: varF / (Σ_h W_h S_h)², strata cut from the whole pool's
// scores (cfg.PhaseStrata of them, or 6, the most TwoPhaseStrata gives).
func twoPhaseCeiling(pool Pool, varF float64, cfg Config) float64 {
	H := cmp.Or(cfg.PhaseStrata, 6)
	scores := make([]float64, len(pool.Records))
	for i, r := range pool.Records {
		scores[i] = cfg.Score(r.Features)
	}
	strata, err := estimate.ScoreStrata(scores, H)
	if err != nil {
		return 0
	}
	ys := make([][]float64, H)
	for i, h := range strata {
		ys[h] = append(ys[h], pool.Records[i].Real)
	}
	sum := 0.0
	for _, y := range ys {
		if len(y) > 1 {
			sum += float64(len(y)) / float64(len(pool.Records)) * math.Sqrt(stat.Variance(y, nil))
		}
	}
	if sum == 0 {
		return 0
	}
	return varF / (sum * sum)
}
