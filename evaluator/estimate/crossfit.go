package estimate

import (
	"math"
	"math/rand/v2"
	"slices"
)

// stratumData is one stratum's real episodes and imagined-feature summary.
type stratumData struct {
	f []float64
	x [][]float64
	// id[i] names the original episode of row i (nil: row i is episode
	// i). Folds are split by episode, so the copies a bootstrap resample
	// makes of one episode never sit in both folds.
	id  []int
	img moments
}

// minPerFeature is the number of episodes per feature a stratum's fitting
// fold needs for its own slope; the pooled slope uses the first
// max(1, n/minPerFeature) features (Features[0], the predicted outcome,
// first), so the number of control variates grows with the data.
const minPerFeature = 10

// fitted is the cross-fitted control-variate estimate over strata.
type fitted struct {
	mu, v float64
	// df is the Welch-Satterthwaite effective degrees of freedom of v (see
	// effectiveDF); +Inf when v is 0.
	df float64
	// coef[h][j] is the coefficient vector applied to fold j of stratum h
	// (fitted on the other fold), after the k/(k+n) shrink.
	coef [][2][]float64
	// fold[h][i] is the fold of real episode i of stratum h.
	fold [][]int
	// pooled counts (stratum, fold) coefficients that fell back to the
	// pooled within-stratum fit; zero those that fell back to no control
	// variate at all.
	pooled, zero int
	// flat counts (stratum, fold) coefficients set to zero because the
	// fitting fold's outcomes in the stratum were all equal.
	flat int
	// floored counts strata whose binary outcomes were all equal and got
	// the Agresti-Coull variance floor; noImagined strata without imagined
	// episodes.
	floored, noImagined int
	// flooredV is the part of v that comes from floored strata,
	// Σ w_h² V_h over them: variance the bootstrap cannot see.
	flooredV float64
}

// crossFit computes mu = Σ_h w_h mu_h with
//
//	mu_h = (1/n_h) Σ_i (f_i - x_i·β_{h,fold(i)}) + x̄'_h·β̄_h,
//
// where β_{h,j} is fitted on the other fold only, x̄'_h is the imagined
// feature mean and β̄_h the fold-size-weighted mean coefficient. Because each
// coefficient is independent of the episodes it is applied to, and the
// imagined episodes are independent of both, mu is exactly unbiased. The
// variance is Σ_h w_h² [Var(r_h)/n_h + β̄_h' Σ'_h β̄_h / k_h] with r the
// cross-fitted residuals (their pooled sample variance, which also counts
// any difference between the folds' residual means, so it errs high).
//
// Each β_{h,j} is the least-squares slope on stratum h's other fold, scaled
// by the variance-optimal k_h/(k_h+n_h). When that fold has fewer than
// minPerFeature episodes per feature (a regression on fewer overfits, and
// cross-fitting then turns the overfit into variance) the slope pooled over
// all strata's other fold, centred per stratum, on the leading features it
// can afford (see minPerFeature), is used instead; when that fails too
// (fewer than 2 residual degrees of freedom), no control variate (β = 0).
// When the fitting fold's outcomes in the stratum are all equal over at
// least minPerFeature episodes, β = 0.
func crossFit(strata []stratumData, w []float64, p int, rng *rand.Rand) fitted {
	out := fitted{coef: make([][2][]float64, len(strata)), fold: make([][]int, len(strata))}
	for h, s := range strata {
		fold := make([]int, len(s.f))
		if s.id == nil {
			for i, idx := range rng.Perm(len(s.f)) {
				fold[idx] = i % 2
			}
		} else {
			// Distinct episodes in a random order, alternating folds.
			seen := map[int]int{}
			var uniq []int
			for _, id := range s.id {
				if _, ok := seen[id]; !ok {
					seen[id] = 0
					uniq = append(uniq, id)
				}
			}
			for i, j := range rng.Perm(len(uniq)) {
				seen[uniq[j]] = i % 2
			}
			for i, id := range s.id {
				fold[i] = seen[id]
			}
		}
		out.fold[h] = fold
	}
	// pooledSlope[j] is fitted on fold 1-j of every stratum; computed lazily.
	var pooledSlope [2][]float64
	var pooledOK [2]bool
	var pooledDone [2]bool
	pooled := func(j int) ([]float64, bool) {
		if !pooledDone[j] {
			var xs [][]float64
			var fs []float64
			var gs []int
			for h, s := range strata {
				if w[h] == 0 {
					continue
				}
				for i := range s.f {
					if out.fold[h][i] != j {
						xs = append(xs, s.x[i])
						fs = append(fs, s.f[i])
						gs = append(gs, h)
					}
				}
			}
			// Lead features only, one more per minPerFeature episodes:
			// the first is always tried.
			q := max(1, min(p, len(xs)/minPerFeature))
			lead := make([][]float64, len(xs))
			for i, row := range xs {
				lead[i] = row[:q]
			}
			b, ok := slope(lead, fs, gs, q)
			pooledSlope[j], pooledOK[j] = append(b, make([]float64, p-q)...), ok
			pooledDone[j] = true
		}
		return pooledSlope[j], pooledOK[j]
	}
	for h, s := range strata {
		if w[h] == 0 {
			continue
		}
		n := len(s.f)
		shrink := float64(s.img.k) / float64(s.img.k+n)
		if s.img.k == 0 {
			out.noImagined++
		}
		for j := range 2 {
			var xs [][]float64
			var fs []float64
			for i := range s.f {
				if out.fold[h][i] != j {
					xs = append(xs, s.x[i])
					fs = append(fs, s.f[i])
				}
			}
			b, ok := make([]float64, p), false
			switch {
			case len(fs) >= minPerFeature && constant(fs):
				// The other fold shows no variation in this stratum's
				// outcome over enough episodes to believe it: a control
				// variate could only add noise here. (With a handful of
				// episodes, all-zero folds are common in any stratum of
				// moderate rate, and switching the control variate off
				// there cost more than it saved.)
				ok = true
				out.flat++
			case len(xs) >= minPerFeature*p:
				b, ok = slope(xs, fs, make([]int, len(xs)), p)
			}
			if !ok {
				if b, ok = pooled(j); ok {
					out.pooled++
				} else {
					out.zero++
				}
			}
			c := make([]float64, p)
			for q := range p {
				c[q] = shrink * b[q]
			}
			out.coef[h][j] = c
		}
	}
	wsNum, wsDen := 0.0, 0.0
	for h, s := range strata {
		if w[h] == 0 {
			continue
		}
		n := len(s.f)
		r := make([]float64, n)
		var nj [2]int
		for i := range s.f {
			j := out.fold[h][i]
			nj[j]++
			r[i] = s.f[i] - dot(s.x[i], out.coef[h][j])
		}
		bbar := make([]float64, p)
		for q := range p {
			bbar[q] = (float64(nj[0])*out.coef[h][0][q] + float64(nj[1])*out.coef[h][1][q]) / float64(n)
		}
		muH := mean(r)
		// Conditional on the coefficients the folds are independent samples
		// with their own residual means: Var(mean r) = Σ_j n_j s_j² / n².
		// A fold of one episode has no s_j; then the pooled sample variance
		// of all residuals stands in (it also counts the folds' mean
		// difference, so it errs high).
		vr := variance(r)
		if nj[0] >= 2 && nj[1] >= 2 {
			var rj [2][]float64
			for i := range r {
				rj[out.fold[h][i]] = append(rj[out.fold[h][i]], r[i])
			}
			vr = (float64(nj[0])*variance(rj[0]) + float64(nj[1])*variance(rj[1])) / float64(n)
		}
		if binary(s.f) && constant(s.f) {
			// All-equal binary outcomes: the sample variance (about 0) is no
			// evidence that the stratum cannot fail, so floor it.
			succ := 0
			if s.f[0] == 1 {
				succ = n
			}
			vr = math.Max(vr, binaryVarianceFloor(succ, n))
			out.floored++
			out.flooredV += w[h] * w[h] * vr / float64(n)
		}
		vH := vr / float64(n)
		// Welch-Satterthwaite: accumulate (w²V_h)²/df_h for the paired
		// part; the imagined part has k_h >> n_h episodes and is taken as
		// exact.
		if vp := w[h] * w[h] * vH; vp > 0 {
			wsNum += vp
			wsDen += vp * vp / effectiveDF(r)
		}
		if s.img.k > 0 {
			muH += dot(s.img.mean, bbar)
			vH += quad(bbar, s.img.cov) / float64(s.img.k)
		}
		out.mu += w[h] * muH
		out.v += w[h] * w[h] * vH
	}
	out.df = math.Inf(1)
	if wsDen > 0 {
		out.df = wsNum * wsNum / wsDen
	}
	return out
}

// effectiveDF is the number of degrees of freedom of a chi-square whose
// relative variance matches that of the sample variance of r:
// Var(s²)/σ⁴ ≈ (κ - 1 + 2/(n-1))/n with κ the kurtosis, so
// df = 2n/(κ - 1 + 2/(n-1)). It is n-1 for normal residuals and small
// when a few large residuals carry the variance, as when the world model
// and the real outcome rarely disagree: then the variance estimate rests on
// those few disagreements and the interval must say so.
func effectiveDF(r []float64) float64 {
	n := float64(len(r))
	if n < 2 {
		return 1
	}
	m := mean(r)
	m2, m4 := 0.0, 0.0
	for _, x := range r {
		d := (x - m) * (x - m)
		m2 += d
		m4 += d * d
	}
	m2 /= n
	m4 /= n
	if m2 == 0 {
		return n - 1
	}
	kappa := m4 / (m2 * m2)
	return max(1, min(n-1, 2*n/(kappa-1+2/(n-1))))
}

// bootstrapCrossFit returns the percentile interval of crossFit over reps
// resamples: real episodes are drawn with replacement within each stratum
// (keeping n_h), each imagined feature mean moves by a normal draw with its
// sampling covariance Σ'_h/k_h, and every resample gets a fresh fold split,
// so the interval includes the coefficients' fitting noise.
func bootstrapCrossFit(strata []stratumData, w []float64, p int, level float64, reps int, rng *rand.Rand) (lo, hi float64) {
	mus := make([]float64, 0, reps)
	rs := make([]stratumData, len(strata))
	for range reps {
		for h, s := range strata {
			n := len(s.f)
			f := make([]float64, n)
			x := make([][]float64, n)
			id := make([]int, n)
			for i := range n {
				k := rng.IntN(n)
				f[i], x[i], id[i] = s.f[k], s.x[k], k
			}
			img := s.img
			if img.k > 0 {
				m := slices.Clone(img.mean)
				zs := make([]float64, p)
				for q := range zs {
					zs[q] = rng.NormFloat64()
				}
				for q := range p {
					for l := 0; l <= q; l++ {
						m[q] += img.chol[q][l] * zs[l]
					}
				}
				img.mean = m
			}
			rs[h] = stratumData{f: f, x: x, id: id, img: img}
		}
		mus = append(mus, crossFit(rs, w, p, rng).mu)
	}
	slices.Sort(mus)
	a := (1 - level) / 2
	return percentile(mus, a), percentile(mus, 1-a)
}
