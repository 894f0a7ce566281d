package estimate

import (
	"fmt"
	"math"
)

// Cell is one place a real episode can go: a stratum of one arm (policy).
type Cell struct {
	Arm     string `json:"arm"`
	Stratum int    `json:"stratum"`
	// Weight is the stratum's weight in its arm's estimate (Σ_h w_h mu_h).
	Weight float64 `json:"weight"`
	// N is the number of real episodes the cell already has.
	N int `json:"n"`
	// Var is the per-episode residual variance observed so far (see
	// ResidualVariances); NaN when not yet known.
	Var float64 `json:"var"`
	// Cap, when positive, is the most episodes the cell can have (a
	// stratum of a finite phase-one sample, see TwoPhase).
	Cap int `json:"cap,omitempty"`
	// Prior, when positive, is a variance expected before any outcome (from
	// the world model's predictions, see TwoPhase.SetPrior): the cell's own
	// variance is shrunk towards it instead of the pooled one, and it
	// stands in for an unknown variance.
	Prior float64 `json:"prior,omitempty"`
}

// VariancePriorN is the weight, in episodes, of the pooled variance a
// cell's own variance estimate is shrunk towards in Allocate.
const VariancePriorN = 10

// Allocate splits budget more real episodes over cells to minimise the sum
// over arms of the variances of their stratified estimates, Σ_c w_c² σ_c² /
// n_c, given the episodes cells already have: first every cell of positive
// weight is brought up to minPer (the estimators need 2 per stratum), then
// episodes go one at a time to the cell whose variance drops most, which is
// the exact integer optimum of this separable convex problem and converges to
// Neyman's n_c ∝ w_c σ_c. Cells of unknown variance (NaN) are assumed to have
// the largest known variance, or the Bernoulli maximum 1/4 when none is known,
// so a first round is proportional to the weights. Cells of weight 0, or at their Cap, get
// nothing.
//
// Known variances are shrunk towards their episode-weighted mean as if it
// had been seen in VariancePriorN episodes: (N·σ² + VariancePriorN·σ̄²)/(N +
// VariancePriorN); a cell with a Prior is shrunk towards that instead, and
// a Prior replaces an unknown variance.
//
// Called once per round with the variances from the outcomes so far, it is
// an adaptive design; it is a pure function of its arguments.
func Allocate(cells []Cell, budget, minPer int) ([]int, error) {
	return allocate(cells, budget, minPer, VariancePriorN)
}

// allocate is Allocate with the shrinkage's weight priorN in episodes.
func allocate(cells []Cell, budget, minPer int, priorN float64) ([]int, error) {
	if budget < 0 || minPer < 0 {
		return nil, fmt.Errorf("%w: budget %d, minimum %d", ErrBudget, budget, minPer)
	}
	add := make([]int, len(cells))
	need := 0
	for i, c := range cells {
		if c.Weight < 0 || math.IsNaN(c.Weight) {
			return nil, fmt.Errorf("%w: cell %d weight %g", ErrWeights, i, c.Weight)
		}
		if want := c.minimum(minPer); c.Weight > 0 && c.N < want {
			add[i] = want - c.N
			need += add[i]
		}
	}
	if need > budget {
		return nil, fmt.Errorf("%w: %d episodes needed to reach %d per stratum, budget %d", ErrBudget, need, minPer, budget)
	}
	known := math.NaN()
	// pooled is the N-weighted mean of the known variances, the target of
	// the shrinkage below.
	pooled, pooledN := 0.0, 0
	for _, c := range cells {
		if c.Weight > 0 && !math.IsNaN(c.Var) {
			if math.IsNaN(known) || c.Var > known {
				known = c.Var
			}
			pooled += float64(c.N) * c.Var
			pooledN += c.N
		}
	}
	if math.IsNaN(known) || known <= 0 {
		known = 0.25
	}
	if pooledN > 0 {
		pooled /= float64(pooledN)
	}
	// A variance estimated from a handful of binary outcomes is mostly
	// noise, and Neyman allocation on noise loses to proportional
	// allocation; shrink each towards the pooled variance with
	// VariancePriorN pseudo-episodes.
	shrunk := func(c Cell) float64 {
		target, unknown := pooled, known
		if c.Prior > 0 {
			target, unknown = c.Prior, c.Prior
		}
		if math.IsNaN(c.Var) {
			return unknown
		}
		return (float64(c.N)*c.Var + priorN*target) / (float64(c.N) + priorN)
	}
	// gain is the variance removed by one more episode in cell i.
	gain := func(i int) float64 {
		c := cells[i]
		if c.Weight == 0 || (c.Cap > 0 && c.N+add[i] >= c.Cap) {
			return -1
		}
		v := shrunk(c)
		n := float64(c.N + add[i])
		if n == 0 {
			return math.Inf(1)
		}
		return c.Weight * c.Weight * v * (1/n - 1/(n+1))
	}
	for range budget - need {
		best, bestGain := -1, -1.0
		for i := range cells {
			if g := gain(i); g > bestGain {
				best, bestGain = i, g
			}
		}
		if best < 0 {
			break // no cell of positive weight and room
		}
		add[best]++
	}
	return add, nil
}

// minimum is minPer, or the cell's cap when smaller.
func (c Cell) minimum(minPer int) int {
	if c.Cap > 0 {
		return min(minPer, c.Cap)
	}
	return minPer
}

// ResidualVariances estimates, per stratum, the per-episode variance left
// after regressing the real outcome on the world-model features (in-sample,
// residual sum of squares over n-p-1): the σ_h² Allocate needs. With fewer
// than p+3 episodes it is the plain outcome variance; with fewer than 2,
// NaN (unknown). Binary outcomes that are all equal get the Agresti-Coull
// floor, so a stratum with no violation seen yet still gets episodes.
func ResidualVariances(strata Strata, paired []Paired) ([]float64, error) {
	H := strata.Len()
	f := make([][]float64, H)
	x := make([][][]float64, H)
	for _, pr := range paired {
		h := strata.Stratum(pr.Critical)
		if h < 0 || h >= H {
			return nil, fmt.Errorf("%w: %d of %d", ErrStratum, h, H)
		}
		f[h] = append(f[h], pr.Real)
		x[h] = append(x[h], pr.Features)
	}
	out := make([]float64, H)
	for h := range out {
		n := len(f[h])
		if n < 2 {
			out[h] = math.NaN()
			continue
		}
		p := len(x[h][0])
		v := variance(f[h])
		if b, ok := slope(x[h], f[h], make([]int, n), p); ok {
			// Residuals about their mean (the intercept).
			r := make([]float64, n)
			for i := range r {
				r[i] = f[h][i] - dot(x[h][i], b)
			}
			m := mean(r)
			ss := 0.0
			for _, e := range r {
				ss += (e - m) * (e - m)
			}
			v = ss / float64(n-p-1)
		}
		if binary(f[h]) && constant(f[h]) {
			s := 0
			if f[h][0] == 1 {
				s = n
			}
			v = math.Max(v, binaryVarianceFloor(s, n))
		}
		out[h] = v
	}
	return out, nil
}
