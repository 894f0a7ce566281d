package estimate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Estimator names as they appear in Result.Estimator and in reports.
const (
	NameRealOnly       = "real_only"
	NameControlVariate = "control_variate"
	NameStratified     = "stratified_sparse_cv"
)

// RealOnly is the mean of the real outcomes.
//
// Intervals: for binary outcomes, the exact Clopper-Pearson interval when
// n < SmallSample or when all outcomes are equal (the CLT interval would
// have zero width at 0 violations in n), otherwise the Wilson score
// interval (the CLT interval for a proportion with better coverage). Non-binary outcomes use the percentile bootstrap of
// the mean below SmallSample; all-equal non-binary outcomes get a zero-width
// interval and a note. Binary outcomes need n >= 1, others n >= 2.
func RealOnly(real []float64, opts Options) (Result, error) {
	opts = opts.withDefaults()
	n := len(real)
	bin := n > 0 && binary(real)
	if n == 0 || (n < 2 && !bin) {
		return Result{}, fmt.Errorf("%w: real-only needs 2 (1 if binary), got %d", ErrTooFew, n)
	}
	r := Result{Estimator: NameRealOnly, Estimate: mean(real), SE: math.Sqrt(variance(real) / float64(n)),
		Level: opts.Level, NReal: n}
	switch {
	case bin && (n < SmallSample || constant(real)):
		s := int(math.Round(r.Estimate * float64(n)))
		r.Lo, r.Hi = clopperPearson(s, n, opts.Level)
		r.Interval = ClopperPearson
		if constant(real) {
			r.note("all %d real outcomes equal %g: exact binomial interval", n, real[0])
		}
	case bin:
		r.Lo, r.Hi = wilson(int(math.Round(r.Estimate*float64(n))), n, opts.Level)
		r.Interval = Wilson
	case n < SmallSample && !constant(real):
		rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
		mus := make([]float64, opts.BootstrapReps)
		for b := range mus {
			s := 0.0
			for range n {
				s += real[rng.IntN(n)]
			}
			mus[b] = s / float64(n)
		}
		slices.Sort(mus)
		a := (1 - opts.Level) / 2
		r.Lo, r.Hi = percentile(mus, a), percentile(mus, 1-a)
		r.Interval = Bootstrap
	default:
		if constant(real) {
			r.note("all %d real outcomes equal %g: zero-width interval", n, real[0])
		}
		h := z(opts.Level) * r.SE
		r.Lo, r.Hi = r.Estimate-h, r.Estimate+h
		r.Interval = CLT
	}
	if bin {
		r.clip01()
	}
	return r, nil
}

// ControlVariate is the PPI++ estimate with the world model's predicted
// outcome (Features[0]) as control variate:
//
//	mu = mean(f - b g) + b mean(g'),   b = k/(k+n) Cov(g,f)/Var(g),
//
// with b fitted by 2-fold cross-fitting (see crossFit). Its variance is
// Var(f - b g)/n + b² Var(g')/k, which for the optimal b is
// (Var f/n)(1 - k/(n+k) ρ²).
//
// Degenerate cases: when all real outcomes are equal Cov(g,f) is 0, b is 0
// and the result is RealOnly's (exact interval for binary outcomes), noted;
// when a fold has fewer than 4 episodes or the prediction is constant in it,
// or its outcomes are all equal over 10 or more episodes, b is 0 for the
// other fold (noted). With no imagined episodes b is 0. Below SmallSample
// real episodes the interval is the bootstrap percentile one; from
// SmallSample on, the t interval on the effective degrees of freedom (see
// CLT).
//
// The paired episodes must be a simple random sample of all (paired and
// imagined), or at least one in which every episode had the same chance to
// be paired (a proportional stratified sample, whose variance is at most
// the simple random sample's up to terms of order 1/N, so the interval
// stays valid). Episodes a
// TwoPhase design chose after its first round are neither: it sends them
// where the prediction is least certain, so here they would bias the
// estimate; use TwoPhase.Estimate for them (ops/job keeps the control
// variate on the first round's proportional share).
func ControlVariate(paired []Paired, imagined []Imagined, opts Options) (Result, error) {
	opts = opts.withDefaults()
	n := len(paired)
	if n < 2 {
		return Result{}, fmt.Errorf("%w: control variate needs 2, got %d", ErrTooFew, n)
	}
	f := make([]float64, n)
	x := make([][]float64, n)
	for i, pr := range paired {
		if len(pr.Features) == 0 {
			return Result{}, fmt.Errorf("%w: paired episode %d has no features", ErrShape, i)
		}
		f[i], x[i] = pr.Real, pr.Features[:1]
	}
	rows := make([][]float64, len(imagined))
	for i, im := range imagined {
		if len(im.Features) == 0 {
			return Result{}, fmt.Errorf("%w: imagined episode %d has no features", ErrShape, i)
		}
		rows[i] = im.Features[:1]
	}
	if constant(f) {
		r, err := RealOnly(f, opts)
		r.Estimator, r.NImagined = NameControlVariate, len(imagined)
		r.note("all real outcomes equal: Cov(g,f) = 0, so b = 0 and this is the real-only estimate")
		return r, err
	}
	sd := []stratumData{{f: f, x: x, img: summarise(rows, 1)}}
	r, err := finish(NameControlVariate, sd, []float64{1}, 1, n, len(imagined), opts)
	return r, err
}

// Strata assigns a stratum to an initial condition from its critical
// variables alone. It is given nothing else, so strata cannot depend on
// outcomes: they are fixed before any episode runs.
type Strata interface {
	// Len is the number of strata; Stratum returns values in [0, Len).
	Len() int
	Stratum(critical []float64) int
}

// Stratified is the stratified sparse control-variate estimate: within each
// stratum a cross-fitted multiple linear regression of the real outcome on
// all world-model features gives the control-variate coefficients (scaled by
// k_h/(k_h+n_h)), and the stratum estimates are combined as Σ w_h mu_h with
// the caller's weights, the strata's probabilities under the scenario
// distribution (they depend on critical variables only, so they can be
// computed without running anything). Real episodes may be allocated to
// strata in any proportion (see Allocate); imagined ones are assigned by
// their critical variables.
//
// Degenerate cases: every stratum of positive weight needs 2 real episodes
// (ErrTooFew otherwise); strata of weight 0 are ignored. A stratum's fitting
// fold with fewer than 10 episodes per feature uses the slope pooled over
// all strata, centred per stratum, fitted on the same other fold (still
// cross-fitted), on as many leading features as that fold affords (one per
// 10 episodes, at least one); if that fails, no control variate (see
// crossFit). A stratum without imagined episodes uses its real mean. A
// stratum whose real outcomes are binary and all equal gets the
// Agresti-Coull variance floor p(1-p) at p = (s+2)/(n+4) instead of its
// near-zero sample variance, and below SmallSample that floored variance is
// added to the bootstrap half-widths (no resample can show it). Notes count
// the fallbacks taken. The bootstrap resamples within strata.
func Stratified(strata Strata, weights []float64, paired []Paired, imagined []Imagined, opts Options) (Result, error) {
	opts = opts.withDefaults()
	H := strata.Len()
	if len(weights) != H {
		return Result{}, fmt.Errorf("%w: %d weights for %d strata", ErrWeights, len(weights), H)
	}
	sum := 0.0
	for _, w := range weights {
		if w < 0 || math.IsNaN(w) {
			return Result{}, fmt.Errorf("%w: %v", ErrWeights, weights)
		}
		sum += w
	}
	if math.Abs(sum-1) > 1e-6 {
		return Result{}, fmt.Errorf("%w: sum %g, want 1", ErrWeights, sum)
	}
	if len(paired) == 0 {
		return Result{}, fmt.Errorf("%w: no real episodes", ErrTooFew)
	}
	p := len(paired[0].Features)
	if p == 0 {
		return Result{}, fmt.Errorf("%w: no features", ErrShape)
	}
	sd := make([]stratumData, H)
	img := make([][][]float64, H)
	stratum := func(c []float64) (int, error) {
		h := strata.Stratum(c)
		if h < 0 || h >= H {
			return 0, fmt.Errorf("%w: %d of %d for critical %v", ErrStratum, h, H, c)
		}
		return h, nil
	}
	for i, pr := range paired {
		if len(pr.Features) != p {
			return Result{}, fmt.Errorf("%w: paired episode %d has %d features, want %d", ErrShape, i, len(pr.Features), p)
		}
		h, err := stratum(pr.Critical)
		if err != nil {
			return Result{}, err
		}
		sd[h].f = append(sd[h].f, pr.Real)
		sd[h].x = append(sd[h].x, pr.Features)
	}
	for i, im := range imagined {
		if len(im.Features) != p {
			return Result{}, fmt.Errorf("%w: imagined episode %d has %d features, want %d", ErrShape, i, len(im.Features), p)
		}
		h, err := stratum(im.Critical)
		if err != nil {
			return Result{}, err
		}
		img[h] = append(img[h], im.Features)
	}
	for h := range sd {
		if weights[h] > 0 && len(sd[h].f) < 2 {
			return Result{}, fmt.Errorf("%w: stratum %d (weight %.3g) has %d real episodes, needs 2", ErrTooFew, h, weights[h], len(sd[h].f))
		}
		sd[h].img = summarise(img[h], p)
	}
	return finish(NameStratified, sd, weights, p, len(paired), len(imagined), opts)
}

// finish runs the cross-fitted estimate and attaches the interval.
func finish(name string, sd []stratumData, w []float64, p, n, k int, opts Options) (Result, error) {
	rng := rand.New(rand.NewPCG(opts.Seed, 0xc0ffee))
	fit := crossFit(sd, w, p, rng)
	r := Result{Estimator: name, Estimate: fit.mu, SE: math.Sqrt(fit.v), Level: opts.Level, NReal: n, NImagined: k}
	if fit.pooled > 0 {
		r.note("%d stratum-fold coefficient fits used the pooled within-stratum slope (fold too small)", fit.pooled)
	}
	if fit.flat > 0 {
		r.note("%d stratum-fold coefficients are 0: the fitting fold's outcomes in the stratum were all equal", fit.flat)
	}
	if fit.zero > 0 {
		r.note("%d stratum-fold coefficient fits failed: no control variate there", fit.zero)
	}
	if fit.floored > 0 {
		r.note("%d strata had all-equal binary outcomes: Agresti-Coull variance floor", fit.floored)
	}
	if fit.noImagined > 0 {
		r.note("%d strata had no imagined episodes: real mean only", fit.noImagined)
	}
	if n >= SmallSample {
		h := z(opts.Level) * r.SE
		if !math.IsInf(fit.df, 1) {
			h = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: fit.df}.Quantile(1-(1-opts.Level)/2) * r.SE
		}
		r.DF = fit.df
		r.Lo, r.Hi, r.Interval = r.Estimate-h, r.Estimate+h, CLT
	} else {
		r.Lo, r.Hi = bootstrapCrossFit(sd, w, p, opts.Level, opts.BootstrapReps, rng)
		r.Interval = Bootstrap
		if fit.flooredV > 0 {
			// A stratum whose outcomes are all equal looks the same in
			// every resample, so the bootstrap sees none of its variance
			// (10 violations in 10 gave [1, 1]). Add the floored strata's
			// variance to each half-width in quadrature.
			hz := z(opts.Level) * math.Sqrt(fit.flooredV)
			lo, hi := r.Estimate-r.Lo, r.Hi-r.Estimate
			r.Lo = r.Estimate - math.Sqrt(math.Max(lo, 0)*math.Max(lo, 0)+hz*hz)
			r.Hi = r.Estimate + math.Sqrt(math.Max(hi, 0)*math.Max(hi, 0)+hz*hz)
			r.note("bootstrap half-widths widened by the floored strata's variance (the bootstrap cannot see it)")
		}
	}
	all := true
	for _, s := range sd {
		all = all && binary(s.f)
	}
	if all {
		r.clip01()
	}
	return r, nil
}
