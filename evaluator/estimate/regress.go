package estimate

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// slope fits the least-squares slope of f on the rows of x with an
// intercept: (Σ + λI)^{-1} c with Σ the feature covariance and c the
// feature-outcome covariance, both centred per group (group[i] labels row i;
// a single group is ordinary regression, several give the pooled
// within-group slope). λ is a relative ridge of 1e-9·trace(Σ)/p, which
// leaves a well-posed fit unchanged and gives constant or collinear feature
// directions a zero coefficient instead of a singular solve. ok is false when
// the rows leave fewer than 2 residual degrees of freedom, or when every
// feature is constant; the slope is then zero.
func slope(x [][]float64, f []float64, group []int, p int) (beta []float64, ok bool) {
	beta = make([]float64, p)
	// Centre per group.
	type acc struct {
		n  int
		mf float64
		mx []float64
	}
	groups := map[int]*acc{}
	for i, row := range x {
		a := groups[group[i]]
		if a == nil {
			a = &acc{mx: make([]float64, p)}
			groups[group[i]] = a
		}
		a.n++
		a.mf += f[i]
		for j := range p {
			a.mx[j] += row[j]
		}
	}
	for _, a := range groups {
		a.mf /= float64(a.n)
		for j := range p {
			a.mx[j] /= float64(a.n)
		}
	}
	df := len(x) - len(groups) - p
	if df < 2 {
		return beta, false
	}
	sigma := mat.NewSymDense(p, nil)
	c := mat.NewVecDense(p, nil)
	d := make([]float64, p)
	for i, row := range x {
		a := groups[group[i]]
		for j := range p {
			d[j] = row[j] - a.mx[j]
		}
		df := f[i] - a.mf
		for j := range p {
			c.SetVec(j, c.AtVec(j)+d[j]*df)
			for k := j; k < p; k++ {
				sigma.SetSym(j, k, sigma.At(j, k)+d[j]*d[k])
			}
		}
	}
	tr := 0.0
	for j := range p {
		tr += sigma.At(j, j)
	}
	if tr <= 0 || math.IsNaN(tr) {
		return beta, false
	}
	lambda := 1e-9 * tr / float64(p)
	for j := range p {
		sigma.SetSym(j, j, sigma.At(j, j)+lambda)
	}
	var chol mat.Cholesky
	if !chol.Factorize(sigma) {
		return beta, false
	}
	var b mat.VecDense
	if err := chol.SolveVecTo(&b, c); err != nil {
		return beta, false
	}
	for j := range p {
		beta[j] = b.AtVec(j)
	}
	return beta, true
}

// moments summarises feature rows: count, mean vector and sample covariance.
type moments struct {
	k    int
	mean []float64
	cov  [][]float64
	// chol is a lower-triangular square root of cov/k (with a tiny jitter),
	// for drawing bootstrap perturbations of the mean.
	chol [][]float64
}

func summarise(rows [][]float64, p int) moments {
	m := moments{k: len(rows), mean: make([]float64, p), cov: make([][]float64, p)}
	for j := range m.cov {
		m.cov[j] = make([]float64, p)
	}
	if m.k == 0 {
		return m
	}
	for _, r := range rows {
		for j := range p {
			m.mean[j] += r[j]
		}
	}
	for j := range p {
		m.mean[j] /= float64(m.k)
	}
	if m.k > 1 {
		for _, r := range rows {
			for j := range p {
				for l := range p {
					m.cov[j][l] += (r[j] - m.mean[j]) * (r[l] - m.mean[l])
				}
			}
		}
		for j := range p {
			for l := range p {
				m.cov[j][l] /= float64(m.k - 1)
			}
		}
	}
	m.chol = cholLower(m.cov, float64(m.k))
	return m
}

// cholLower returns the Cholesky factor of cov/k plus a small jitter, or a
// zero matrix when even that fails.
func cholLower(cov [][]float64, k float64) [][]float64 {
	p := len(cov)
	out := make([][]float64, p)
	for j := range out {
		out[j] = make([]float64, p)
	}
	if k == 0 {
		return out
	}
	s := mat.NewSymDense(p, nil)
	tr := 0.0
	for j := range p {
		tr += cov[j][j]
	}
	for j := range p {
		for l := j; l < p; l++ {
			s.SetSym(j, l, cov[j][l]/k)
		}
		s.SetSym(j, j, s.At(j, j)+1e-12*(tr/k+1))
	}
	var c mat.Cholesky
	if !c.Factorize(s) {
		return out
	}
	var l mat.TriDense
	c.LTo(&l)
	for j := range p {
		for q := 0; q <= j; q++ {
			out[j][q] = l.At(j, q)
		}
	}
	return out
}

// quad returns b' S b.
func quad(b []float64, s [][]float64) float64 {
	v := 0.0
	for j := range b {
		for l := range b {
			v += b[j] * s[j][l] * b[l]
		}
	}
	return v
}

func dot(a, b []float64) float64 {
	v := 0.0
	for j := range a {
		v += a[j] * b[j]
	}
	return v
}
