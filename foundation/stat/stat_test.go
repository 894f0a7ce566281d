package stat

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.7g, want %.7g (±%g)", name, got, want, tol)
	}
}

func TestQuantiles(t *testing.T) {
	near(t, "z(0.975)", NormalQuantile(0.975), 1.959963985, 1e-8)
	near(t, "z(0.5)", NormalQuantile(0.5), 0, 1e-12)
	// Reference values from statistical tables (scipy.stats.t.ppf).
	for _, tc := range []struct {
		p, df, want float64
	}{
		{0.975, 1, 12.70620474},
		{0.975, 2, 4.30265273},
		{0.95, 5, 2.01504837},
		{0.975, 10, 2.22813885},
		{0.975, 49, 2.00957524},
		{0.995, 30, 2.75000356},
		{0.025, 10, -2.22813885},
	} {
		near(t, "t quantile", TQuantile(tc.p, tc.df), tc.want, 1e-5)
	}
}

func TestWilson(t *testing.T) {
	z := NormalQuantile(0.975)
	for _, tc := range []struct {
		name   string
		k, n   int
		lo, hi float64
	}{
		// (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n), by hand.
		{"45 of 50", 45, 50, 0.7864, 0.9565},
		{"none of 10", 0, 10, 0, 0.2775},
		{"all of 50", 50, 50, 0.9287, 1},
		{"half of 4", 2, 4, 0.1500, 0.8500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := Wilson(tc.k, tc.n, z)
			near(t, "lo", lo, tc.lo, 1e-4)
			near(t, "hi", hi, tc.hi, 1e-4)
		})
	}
}

func TestMeanT(t *testing.T) {
	// mean 2, sd 1, se 1/sqrt3, t(0.975, 2) = 4.302653.
	m, ci := MeanT([]float64{1, 2, 3}, 0.95)
	near(t, "mean", m, 2, 1e-12)
	near(t, "lo", float64(ci.Lo), 2-4.302653/math.Sqrt(3), 1e-5)
	near(t, "hi", float64(ci.Hi), 2+4.302653/math.Sqrt(3), 1e-5)
	if _, ci := MeanT([]float64{0.7}, 0.95); !math.IsInf(float64(ci.Hi), 1) {
		t.Errorf("one value: %v, want unbounded", ci)
	}
}

func TestWilsonCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	z := NormalQuantile(0.975)
	const experiments = 4000
	for _, p := range []float64{0.2, 0.5, 0.85} {
		covered := 0
		for range experiments {
			k := 0
			for range 50 {
				if rng.Float64() < p {
					k++
				}
			}
			if lo, hi := Wilson(k, 50, z); lo <= p && p <= hi {
				covered++
			}
		}
		rate := float64(covered) / experiments
		// Wilson's coverage oscillates with p around the nominal level.
		if rate < 0.925 || rate > 0.975 {
			t.Errorf("p=%.2f: Wilson 95%% covered %.3f", p, rate)
		}
	}
}

func TestMeanTCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const experiments, n = 3000, 30
	// Max rewards pile up near 1, like good policies': x = 1 - u².
	const truth = 1 - 1.0/3
	covered := 0
	xs := make([]float64, n)
	for range experiments {
		for i := range xs {
			u := rng.Float64()
			xs[i] = 1 - u*u
		}
		if _, ci := MeanT(xs, 0.95); ci.Contains(truth) {
			covered++
		}
	}
	if rate := float64(covered) / experiments; rate < 0.935 || rate > 0.965 {
		t.Errorf("t 95%% covered %.3f", rate)
	}
}

func TestNumberJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Number
		js   string
		nan  bool
	}{
		{"value", 0.25, "0.25", false},
		{"zero", 0, "0", false},
		{"NaN is null and back", Number(math.NaN()), "null", true},
		{"infinity is null, comes back NaN", Number(math.Inf(1)), "null", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := json.Marshal(tc.in)
			if err != nil || string(js) != tc.js {
				t.Fatalf("marshal: %s %v, want %s", js, err, tc.js)
			}
			var back Number
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(float64(back)) != tc.nan || (!tc.nan && back != tc.in) {
				t.Errorf("round trip %v -> %s -> %v", tc.in, js, back)
			}
		})
	}
	var n Number
	if err := json.Unmarshal([]byte(`"x"`), &n); err == nil {
		t.Error("a string decoded as a number")
	}
}
