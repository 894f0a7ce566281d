// Package stat holds the small pure statistics every layer uses: Wilson and
// Student-t intervals, normal and t quantiles, Beta draws, and the JSON
// number that encodes NaN and infinities as null.
package stat

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sync"
)

// Wilson is the Wilson score interval for k successes in n trials at normal
// quantile z (1.959964 for 95%). Unlike the Wald interval it stays inside
// [0,1] and keeps near-nominal coverage at rates near 0 and 1, which is
// where good policies live.
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z / (1 + z2/nf) * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = max(centre-half, 0), min(centre+half, 1)
	// At k=0 and k=n the bound is exactly 0 or 1; rounding must not move it.
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// MeanT is the mean of xs with its Student-t interval at the confidence
// level. A single value gives an unbounded interval; values all equal give
// a zero-width one (the data show no spread to be uncertain about).
func MeanT(xs []float64, confidence float64) (float64, Interval) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), Interval{Number(math.NaN()), Number(math.NaN())}
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	mean := s / float64(n)
	if n == 1 {
		return mean, Interval{Number(math.Inf(-1)), Number(math.Inf(1))}
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	se := math.Sqrt(ss / float64(n-1) / float64(n))
	half := TQuantile(1-(1-confidence)/2, float64(n-1)) * se
	return mean, Interval{Number(mean - half), Number(mean + half)}
}

// NormalQuantile is the standard normal quantile function.
func NormalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// TQuantile is the quantile of Student's t with df degrees of freedom, for
// p in (0,1): bisection on the CDF, which is integrated numerically (the
// standard library has no incomplete beta function). Accurate to about
// 1e-7 for df >= 1.
func TQuantile(p, df float64) float64 {
	if p == 0.5 {
		return 0
	}
	if p < 0.5 {
		return -TQuantile(1-p, df)
	}
	// Callers ask for the same few quantiles over and over (one per
	// interval); each costs about 25k density evaluations.
	key := [2]float64{p, df}
	if q, ok := tCache.Load(key); ok {
		return q.(float64)
	}
	q := tQuantile(p, df)
	tCache.Store(key, q)
	return q
}

var tCache sync.Map // [2]float64{p, df} -> quantile

func tQuantile(p, df float64) float64 {
	lo, hi := 0.0, 1.0
	for tCDF(hi, df) < p {
		hi *= 2
	}
	for range 60 {
		mid := (lo + hi) / 2
		if tCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// tCDF is P(T <= x) for x >= 0. With t = sqrt(df)*tan(theta) the density
// becomes c*cos(theta)^(df-1) on [0, atan(x/sqrt(df))], smooth for every
// df >= 1 (no heavy tail to chase), so Simpson's rule is accurate.
func tCDF(x, df float64) float64 {
	lc := lgamma((df+1)/2) - lgamma(df/2) - 0.5*math.Log(math.Pi)
	c := math.Exp(lc)
	end := math.Atan(x / math.Sqrt(df))
	const n = 400 // even
	h := end / n
	f := func(th float64) float64 { return math.Pow(math.Cos(th), df-1) }
	s := f(0) + f(end)
	for i := 1; i < n; i++ {
		w := 2.0
		if i%2 == 1 {
			w = 4
		}
		s += w * f(float64(i)*h)
	}
	return 0.5 + c*s*h/3
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// Beta draws from Beta(a, b), a, b >= 1, as X/(X+Y) of two Gamma draws.
func Beta(rng *rand.Rand, a, b float64) float64 {
	x := gamma(rng, a)
	y := gamma(rng, b)
	return x / (x + y)
}

// gamma draws from Gamma(shape, 1), shape >= 1 (Marsaglia and Tsang 2000).
func gamma(rng *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Number is a float64 that encodes NaN and infinities as JSON null (an
// unknown mean, an unbounded interval), so a report always encodes.
type Number float64

// MarshalJSON implements json.Marshaler.
func (n Number) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(n))
}

// UnmarshalJSON implements json.Unmarshaler: null decodes as NaN, so a
// result read back from JSON (a stored report) keeps its unknown values
// unknown instead of turning them into 0. An unbounded interval end comes
// back as NaN too.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// Interval is a two-sided confidence interval.
type Interval struct {
	Lo Number `json:"lo"`
	Hi Number `json:"hi"`
}

// Contains reports whether x lies in the closed interval.
func (i Interval) Contains(x float64) bool { return float64(i.Lo) <= x && x <= float64(i.Hi) }
