package estimate

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrTooFew means there are not enough real episodes for the estimator
	// (at least 2 overall, and at least 2 in every stratum of positive weight).
	ErrTooFew = errors.New("estimate: too few real episodes")
	// ErrShape means inputs disagree in length or feature count.
	ErrShape = errors.New("estimate: inconsistent input shapes")
	// ErrWeights means stratum weights are negative, do not sum to 1, or do
	// not match the number of strata.
	ErrWeights = errors.New("estimate: bad stratum weights")
	// ErrStratum means a stratum function returned an index out of range.
	ErrStratum = errors.New("estimate: stratum out of range")
	// ErrBudget means an allocation request cannot be met.
	ErrBudget = errors.New("estimate: bad budget")
)

// SmallSample is the number of real episodes from which the CLT interval is
// used; below it estimators use a bootstrap or exact interval.
const SmallSample = 30

// Interval names the kind of confidence interval a Result carries.
type Interval string

const (
	// CLT is estimate ± q·SE with the analytic standard error. For the real
	// outcomes' mean q is the normal quantile; for the control-variate
	// estimators it is the Student-t quantile on Result.DF, the effective
	// degrees of freedom of the variance estimate (Welch-Satterthwaite over
	// strata, kurtosis-corrected within), which is the normal quantile for
	// large well-behaved samples and wider when a few residuals carry the
	// variance.
	CLT Interval = "clt"
	// Bootstrap is the percentile interval of the estimator recomputed on
	// resampled real episodes (within strata for Stratified), with fresh
	// fold splits per resample.
	Bootstrap Interval = "bootstrap-percentile"
	// Wilson is the score interval for a binomial proportion, the CLT
	// interval the real-only mean of binary outcomes uses from SmallSample
	// episodes on: it inverts the normal test with the variance at the
	// hypothesised rate instead of the estimate, which keeps its coverage
	// near nominal where the plain CLT interval falls short (0.935 at n 100,
	// p 0.39).
	Wilson Interval = "wilson"
	// ClopperPearson is the exact binomial interval, used for the real-only
	// mean of binary outcomes when n < SmallSample or all outcomes are equal.
	ClopperPearson Interval = "clopper-pearson"
)

// Paired is one initial condition run both for real and in the world model.
type Paired struct {
	// Critical holds the scenario's critical variables, fixed before the
	// episode ran. Only Critical decides the stratum.
	Critical []float64 `json:"critical"`
	// Real is the real outcome, 1 for a violation and 0 otherwise (any real
	// number is accepted; binary outcomes get binary-aware intervals).
	Real float64 `json:"real"`
	// Features are the world model's outputs for the same initial condition.
	// Features[0] is its predicted outcome, the control variate of
	// ControlVariate; Stratified uses all of them.
	Features []float64 `json:"features"`
}

// Imagined is one initial condition run only in the world model.
type Imagined struct {
	Critical []float64 `json:"critical"`
	Features []float64 `json:"features"`
}

// Options tunes the estimators. The zero value is usable.
type Options struct {
	// Level is the confidence level (default 0.95).
	Level float64
	// BootstrapReps is the number of bootstrap resamples (default 1000).
	BootstrapReps int
	// Seed fixes fold splits and bootstrap resamples.
	Seed uint64
}

func (o Options) withDefaults() Options {
	if o.Level == 0 {
		o.Level = 0.95
	}
	if o.BootstrapReps == 0 {
		o.BootstrapReps = 1000
	}
	return o
}

// Result is an estimate with its uncertainty.
type Result struct {
	Estimator string  `json:"estimator"`
	Estimate  float64 `json:"estimate"`
	// SE is the analytic standard error (for the bootstrap interval too).
	SE       float64  `json:"se"`
	Lo       float64  `json:"lo"`
	Hi       float64  `json:"hi"`
	Level    float64  `json:"level"`
	Interval Interval `json:"interval"`
	// DF is the effective degrees of freedom behind a control-variate CLT
	// interval (0 when not used).
	DF float64 `json:"df,omitempty"`
	// NReal and NImagined count the episodes used.
	NReal     int `json:"n_real"`
	NImagined int `json:"n_imagined"`
	// Notes record degenerate cases and fallbacks taken, in words.
	Notes []string `json:"notes,omitempty"`
}

// Width is Hi - Lo.
func (r Result) Width() float64 { return r.Hi - r.Lo }

// Covers reports whether the interval contains v.
func (r Result) Covers(v float64) bool { return r.Lo <= v && v <= r.Hi }

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// z returns the two-sided normal quantile for level.
func z(level float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-level)/2)
}

// binary reports whether every outcome is 0 or 1.
func binary(xs []float64) bool {
	for _, x := range xs {
		if x != 0 && x != 1 {
			return false
		}
	}
	return true
}

// constant reports whether all values are equal.
func constant(xs []float64) bool {
	for _, x := range xs[1:] {
		if x != xs[0] {
			return false
		}
	}
	return true
}

// clip01 narrows an interval to [0,1], which holds any mean of binary outcomes.
func (r *Result) clip01() {
	r.Lo = math.Max(r.Lo, 0)
	r.Hi = math.Min(r.Hi, 1)
}

// clopperPearson is the exact binomial interval for s successes in n trials.
func clopperPearson(s, n int, level float64) (lo, hi float64) {
	a := (1 - level) / 2
	lo, hi = 0, 1
	if s > 0 {
		lo = distuv.Beta{Alpha: float64(s), Beta: float64(n - s + 1)}.Quantile(a)
	}
	if s < n {
		hi = distuv.Beta{Alpha: float64(s + 1), Beta: float64(n - s)}.Quantile(1 - a)
	}
	return lo, hi
}

// wilson is the Wilson score interval for s successes in n trials.
func wilson(s, n int, level float64) (lo, hi float64) {
	zz := z(level)
	nf := float64(n)
	p := float64(s) / nf
	d := 1 + zz*zz/nf
	c := (p + zz*zz/(2*nf)) / d
	h := zz * math.Sqrt(p*(1-p)/nf+zz*zz/(4*nf*nf)) / d
	return math.Max(0, c-h), math.Min(1, c+h)
}

// binaryVarianceFloor is the variance used for a group of binary outcomes
// that are all equal, where the sample variance (0) says nothing: the
// Bernoulli variance at the Agresti-Coull estimate (s+2)/(n+4).
func binaryVarianceFloor(s, n int) float64 {
	p := (float64(s) + 2) / (float64(n) + 4)
	return p * (1 - p)
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// variance is the sample variance (n-1 denominator); 0 for fewer than 2 values.
func variance(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := mean(xs)
	s := 0.0
	for _, x := range xs {
		s += (x - m) * (x - m)
	}
	return s / float64(len(xs)-1)
}

// percentile returns the p-quantile of sorted xs by linear interpolation.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	h := p * float64(len(sorted)-1)
	i := int(math.Floor(h))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-float64(i))*(sorted[i+1]-sorted[i])
}
