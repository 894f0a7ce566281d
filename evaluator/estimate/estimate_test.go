package estimate

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// testStrata puts critical[0] in [0,1) into 3 strata at 0.2 and 0.6.
type testStrata struct{}

func (testStrata) Len() int { return 3 }
func (testStrata) Stratum(c []float64) int {
	switch {
	case c[0] < 0.2:
		return 0
	case c[0] < 0.6:
		return 1
	}
	return 2
}

// population is a finite pool with known truth: the mean real outcome.
// The real outcome is a violation driven by a latent clearance; the world
// model sees the clearance with noise, gives a predicted violation and the
// predicted clearance; the violation rate rises with critical[0] (so the
// strata differ).
type population struct {
	recs    []Paired
	truth   float64
	weights []float64
	byH     [][]int
}

func newPopulation(seed uint64, n int) population {
	rng := rand.New(rand.NewPCG(seed, 1))
	p := population{weights: make([]float64, 3), byH: make([][]int, 3)}
	for i := range n {
		u := rng.Float64()
		c := 1.5 - 2*u + rng.NormFloat64() // clearance: smaller for large u
		pred := c + 0.5*rng.NormFloat64()
		f, g := 0.0, 0.0
		if c < 0 {
			f = 1
		}
		if pred < 0 {
			g = 1
		}
		p.recs = append(p.recs, Paired{Critical: []float64{u}, Real: f, Features: []float64{g, pred}})
		p.truth += f
		h := testStrata{}.Stratum([]float64{u})
		p.weights[h]++
		p.byH[h] = append(p.byH[h], i)
	}
	p.truth /= float64(n)
	for h := range p.weights {
		p.weights[h] /= float64(n)
	}
	return p
}

// draw returns n paired episodes i.i.d. and k imagined ones.
func (p population) draw(rng *rand.Rand, n, k int) ([]Paired, []Imagined) {
	paired := make([]Paired, n)
	for i := range paired {
		paired[i] = p.recs[rng.IntN(len(p.recs))]
	}
	return paired, p.imagined(rng, k)
}

func (p population) imagined(rng *rand.Rand, k int) []Imagined {
	im := make([]Imagined, k)
	for i := range im {
		r := p.recs[rng.IntN(len(p.recs))]
		im[i] = Imagined{Critical: r.Critical, Features: r.Features}
	}
	return im
}

// drawStratified returns n paired episodes allocated proportionally to the
// weights (at least 2 per stratum), drawn within strata.
func (p population) drawStratified(rng *rand.Rand, n int) []Paired {
	cells := make([]Cell, 3)
	for h := range cells {
		cells[h] = Cell{Stratum: h, Weight: p.weights[h], Var: math.NaN()}
	}
	add, err := Allocate(cells, n, 2)
	if err != nil {
		panic(err)
	}
	var out []Paired
	for h, a := range add {
		for range a {
			out = append(out, p.recs[p.byH[h][rng.IntN(len(p.byH[h]))]])
		}
	}
	return out
}

func reals(ps []Paired) []float64 {
	out := make([]float64, len(ps))
	for i, p := range ps {
		out[i] = p.Real
	}
	return out
}

// runEstimator evaluates one estimator in one replication.
type runEstimator func(p population, rng *rand.Rand, n, k int, opts Options) (Result, error)

var estimators = []struct {
	name string
	run  runEstimator
}{
	{NameRealOnly, func(p population, rng *rand.Rand, n, k int, opts Options) (Result, error) {
		paired, _ := p.draw(rng, n, 0)
		return RealOnly(reals(paired), opts)
	}},
	{NameControlVariate, func(p population, rng *rand.Rand, n, k int, opts Options) (Result, error) {
		paired, im := p.draw(rng, n, k)
		return ControlVariate(paired, im, opts)
	}},
	{NameStratified, func(p population, rng *rand.Rand, n, k int, opts Options) (Result, error) {
		paired := p.drawStratified(rng, n)
		return Stratified(testStrata{}, p.weights, paired, p.imagined(rng, k), opts)
	}},
}

// TestUnbiased: over many seeds, the mean error of each estimator is within
// 4 Monte Carlo standard errors of 0, for several populations.
func TestUnbiased(t *testing.T) {
	for _, e := range estimators {
		for _, popSeed := range []uint64{1, 2} {
			t.Run(e.name, func(t *testing.T) {
				p := newPopulation(popSeed, 4000)
				const reps = 1500
				errs := make([]float64, reps)
				for r := range reps {
					rng := rand.New(rand.NewPCG(popSeed, uint64(r)))
					res, err := e.run(p, rng, 40, 300, Options{Seed: uint64(r)})
					if err != nil {
						t.Fatal(err)
					}
					errs[r] = res.Estimate - p.truth
				}
				bias, se := mean(errs), math.Sqrt(variance(errs)/reps)
				if math.Abs(bias) > 4*se {
					t.Fatalf("bias %.5f, Monte Carlo SE %.5f (truth %.4f)", bias, se, p.truth)
				}
			})
		}
	}
}

// TestVarianceFormula: the analytic SE² averages to the empirical variance
// of the estimates (within 15%) at a budget where the CLT applies.
func TestVarianceFormula(t *testing.T) {
	p := newPopulation(3, 4000)
	for _, e := range estimators {
		t.Run(e.name, func(t *testing.T) {
			const reps = 1500
			est := make([]float64, reps)
			v := 0.0
			for r := range reps {
				rng := rand.New(rand.NewPCG(7, uint64(r)))
				res, err := e.run(p, rng, 150, 1000, Options{Seed: uint64(r)})
				if err != nil {
					t.Fatal(err)
				}
				est[r] = res.Estimate
				v += res.SE * res.SE / reps
			}
			emp := variance(est)
			if ratio := v / emp; ratio < 0.85 || ratio > 1.15 {
				t.Fatalf("mean SE² %.3g, empirical variance %.3g (ratio %.2f)", v, emp, ratio)
			}
		})
	}
}

// TestCoverage: intervals cover the truth near their nominal 95%, with CLT
// intervals (n = 60) and small-sample ones (n = 16).
func TestCoverage(t *testing.T) {
	p := newPopulation(4, 4000)
	for _, n := range []int{16, 60} {
		for _, e := range estimators {
			t.Run(e.name, func(t *testing.T) {
				const reps = 300
				covered := 0
				for r := range reps {
					rng := rand.New(rand.NewPCG(11, uint64(r)))
					res, err := e.run(p, rng, n, 500, Options{Seed: uint64(r), BootstrapReps: 300})
					if err != nil {
						t.Fatal(err)
					}
					if (n < SmallSample) == (res.Interval == CLT || res.Interval == Wilson) {
						t.Fatalf("n %d used %s", n, res.Interval)
					}
					if res.Covers(p.truth) {
						covered++
					}
				}
				// 0.95 nominal; 300 replications have a Monte Carlo SE of
				// about 0.013, so 0.91 is 3 SE below.
				if c := float64(covered) / reps; c < 0.91 {
					t.Fatalf("n %d: coverage %.3f", n, c)
				}
			})
		}
	}
}

// TestCrossFitting fails if the coefficient applied to a fold depends on
// that fold's outcomes: changing the outcomes of fold 0 must leave fold 0's
// coefficient alone and change fold 1's.
func TestCrossFitting(t *testing.T) {
	p := newPopulation(5, 2000)
	rng := rand.New(rand.NewPCG(1, 2))
	paired, im := p.draw(rng, 60, 500)
	build := func(ps []Paired) []stratumData {
		sd := stratumData{}
		for _, pr := range ps {
			sd.f = append(sd.f, pr.Real)
			sd.x = append(sd.x, pr.Features)
		}
		rows := make([][]float64, len(im))
		for i := range im {
			rows[i] = im[i].Features
		}
		sd.img = summarise(rows, 2)
		return []stratumData{sd}
	}
	a := crossFit(build(paired), []float64{1}, 2, rand.New(rand.NewPCG(9, 9)))
	changed := slices.Clone(paired)
	for i := range changed {
		if a.fold[0][i] == 0 {
			changed[i].Real = 1 - changed[i].Real
		}
	}
	b := crossFit(build(changed), []float64{1}, 2, rand.New(rand.NewPCG(9, 9)))
	if !slices.Equal(a.fold[0], b.fold[0]) {
		t.Fatal("fold split depends on outcomes")
	}
	if !slices.Equal(a.coef[0][0], b.coef[0][0]) {
		t.Fatalf("coefficient applied to fold 0 changed with fold 0's outcomes: %v -> %v", a.coef[0][0], b.coef[0][0])
	}
	if slices.Equal(a.coef[0][1], b.coef[0][1]) {
		t.Fatalf("coefficient applied to fold 1 ignores fold 0: %v", a.coef[0][1])
	}
}

// recordingStrata remembers every vector it is asked about.
type recordingStrata struct {
	testStrata
	seen *[][]float64
}

func (r recordingStrata) Stratum(c []float64) int {
	*r.seen = append(*r.seen, slices.Clone(c))
	return r.testStrata.Stratum(c)
}

// TestStrataSeeOnlyCriticalVariables: the strata are asked about critical
// vectors only, and the same ones whatever the outcomes are.
func TestStrataSeeOnlyCriticalVariables(t *testing.T) {
	p := newPopulation(6, 2000)
	rng := rand.New(rand.NewPCG(3, 3))
	paired := p.drawStratified(rng, 40)
	im := p.imagined(rng, 200)
	var seenA, seenB [][]float64
	if _, err := Stratified(recordingStrata{seen: &seenA}, p.weights, paired, im, Options{}); err != nil {
		t.Fatal(err)
	}
	flipped := slices.Clone(paired)
	for i := range flipped {
		flipped[i].Real = 1 - flipped[i].Real
		flipped[i].Features = []float64{-1, -2}
	}
	if _, err := Stratified(recordingStrata{seen: &seenB}, p.weights, flipped, im, Options{}); err != nil {
		t.Fatal(err)
	}
	if len(seenA) != len(paired)+len(im) || len(seenA) != len(seenB) {
		t.Fatalf("asked %d and %d times for %d episodes", len(seenA), len(seenB), len(paired)+len(im))
	}
	for i := range seenA {
		if !slices.Equal(seenA[i], seenB[i]) {
			t.Fatalf("call %d: %v vs %v", i, seenA[i], seenB[i])
		}
		if len(seenA[i]) != 1 {
			t.Fatalf("call %d got %v, not the critical vector", i, seenA[i])
		}
	}
}

func TestDegenerate(t *testing.T) {
	ones := func(n int, v float64) []Paired {
		out := make([]Paired, n)
		for i := range out {
			out[i] = Paired{Critical: []float64{float64(i%3)/3 + 0.1}, Real: v, Features: []float64{float64(i % 2), float64(i)}}
		}
		return out
	}
	im := func(k int) []Imagined {
		out := make([]Imagined, k)
		for i := range out {
			out[i] = Imagined{Critical: []float64{float64(i%3)/3 + 0.1}, Features: []float64{float64(i % 2), float64(i)}}
		}
		return out
	}
	w := []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
	tests := []struct {
		name      string
		run       func() (Result, error)
		wantErr   error
		wantInt   Interval
		wantLo    float64
		wantHiMin float64 // the interval must reach at least this high
		minWidth  float64
	}{
		{name: "real-only all zero n=40 uses exact interval", run: func() (Result, error) { return RealOnly(reals(ones(40, 0)), Options{}) },
			wantInt: ClopperPearson, wantHiMin: 0.08},
		{name: "real-only all one", run: func() (Result, error) { return RealOnly(reals(ones(10, 1)), Options{}) },
			wantInt: ClopperPearson, wantLo: 0.69, wantHiMin: 1},
		{name: "real-only one episode of continuous outcome", run: func() (Result, error) { return RealOnly([]float64{0.5}, Options{}) },
			wantErr: ErrTooFew},
		{name: "control variate all zero falls back to real-only", run: func() (Result, error) { return ControlVariate(ones(40, 0), im(100), Options{}) },
			wantInt: ClopperPearson, wantHiMin: 0.08},
		{name: "control variate with constant prediction", run: func() (Result, error) {
			ps := ones(40, 0)
			for i := range ps {
				ps[i].Real = float64(i % 3 % 2)
				ps[i].Features = []float64{1}
			}
			return ControlVariate(ps, im(100), Options{})
		}, wantInt: CLT, wantHiMin: 0.3},
		{name: "control variate without imagined episodes", run: func() (Result, error) {
			ps := ones(40, 0)
			ps[3].Real = 1
			return ControlVariate(ps, nil, Options{})
		}, wantInt: CLT, wantHiMin: 0.025},
		{name: "control variate one episode", run: func() (Result, error) { return ControlVariate(ones(1, 0), im(10), Options{}) },
			wantErr: ErrTooFew},
		{name: "stratified all zero gets a floored variance", run: func() (Result, error) { return Stratified(testStrata{}, w, ones(60, 0), im(100), Options{}) },
			wantInt: CLT, wantHiMin: 0.05},
		{name: "stratified all one below 30 is not a zero-width bootstrap", run: func() (Result, error) {
			return Stratified(testStrata{}, w, ones(12, 1), im(100), Options{})
		}, wantInt: Bootstrap, wantHiMin: 1, minWidth: 0.1},
		{name: "stratified empty stratum of positive weight", run: func() (Result, error) {
			return Stratified(testStrata{}, w, ones(60, 0)[:1], im(100), Options{})
		}, wantErr: ErrTooFew},
		{name: "stratified bad weights", run: func() (Result, error) {
			return Stratified(testStrata{}, []float64{0.5, 0.6, 0}, ones(60, 0), im(100), Options{})
		},
			wantErr: ErrWeights},
		{name: "stratified feature count mismatch", run: func() (Result, error) {
			ps := ones(60, 0)
			ps[5].Features = []float64{1}
			return Stratified(testStrata{}, w, ps, im(100), Options{})
		}, wantErr: ErrShape},
		{name: "stratified out-of-range stratum", run: func() (Result, error) {
			return Stratified(badStrata{}, w, ones(60, 0), im(100), Options{})
		}, wantErr: ErrStratum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.run()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.Interval != tt.wantInt {
				t.Fatalf("interval %s, want %s (%+v)", r.Interval, tt.wantInt, r)
			}
			if r.Width() < tt.minWidth {
				t.Fatalf("width %g, want at least %g (%+v)", r.Width(), tt.minWidth, r)
			}
			if r.Lo < tt.wantLo-1e-9 || r.Hi < tt.wantHiMin || r.Lo > r.Estimate || r.Hi < r.Estimate || math.IsNaN(r.SE) {
				t.Fatalf("interval [%g, %g] around %g (SE %g), want lo >= %g and hi >= %g", r.Lo, r.Hi, r.Estimate, r.SE, tt.wantLo, tt.wantHiMin)
			}
		})
	}
}

type badStrata struct{ testStrata }

func (badStrata) Stratum([]float64) int { return 7 }

func TestClopperPearson(t *testing.T) {
	tests := []struct {
		name   string
		s, n   int
		lo, hi float64
	}{
		{name: "0 of 10", s: 0, n: 10, lo: 0, hi: 0.3085},
		{name: "5 of 10", s: 5, n: 10, lo: 0.1871, hi: 0.8129},
		{name: "10 of 10", s: 10, n: 10, lo: 0.6915, hi: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo, hi := clopperPearson(tt.s, tt.n, 0.95)
			if math.Abs(lo-tt.lo) > 1e-4 || math.Abs(hi-tt.hi) > 1e-4 {
				t.Fatalf("[%.4f, %.4f], want [%.4f, %.4f]", lo, hi, tt.lo, tt.hi)
			}
		})
	}
}

func TestWilson(t *testing.T) {
	// The score formula evaluated independently (Python, z = 1.959964).
	lo, hi := wilson(39, 100, 0.95)
	if math.Abs(lo-0.3002) > 1e-4 || math.Abs(hi-0.4880) > 1e-4 {
		t.Fatalf("[%.4f, %.4f], want [0.3002, 0.4880]", lo, hi)
	}
}

func TestAllocate(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		cells   []Cell
		budget  int
		min     int
		want    []int
		wantErr error
	}{
		{name: "unknown variances: proportional to weights", budget: 100, min: 2,
			cells: []Cell{{Weight: 0.5, Var: nan}, {Weight: 0.3, Var: nan}, {Weight: 0.2, Var: nan}}, want: []int{50, 30, 20}},
		// Shrunk variances (100·0.01+10·0.05)/110 and (100·0.09+10·0.05)/110
		// give σ ratio 2.51, so 500 episodes in all split 142:358.
		{name: "Neyman: proportional to w sigma", budget: 300, min: 0,
			cells: []Cell{{Weight: 0.5, Var: 0.01, N: 100}, {Weight: 0.5, Var: 0.09, N: 100}}, want: []int{42, 258}},
		{name: "minimum per cell first", budget: 10, min: 2,
			cells: []Cell{{Weight: 0.98, Var: nan}, {Weight: 0.01, Var: nan}, {Weight: 0.01, Var: nan}}, want: []int{6, 2, 2}},
		{name: "zero weight gets nothing", budget: 10, min: 2,
			cells: []Cell{{Weight: 1, Var: nan}, {Weight: 0, Var: nan}}, want: []int{10, 0}},
		{name: "two arms share one budget", budget: 40, min: 2,
			cells: []Cell{{Arm: "a", Weight: 1, Var: 0.25, N: 10}, {Arm: "b", Weight: 1, Var: 0.25, N: 30}}, want: []int{30, 10}},
		{name: "budget below the minimum", budget: 3, min: 2,
			cells: []Cell{{Weight: 0.5, Var: nan}, {Weight: 0.5, Var: nan}}, wantErr: ErrBudget},
		{name: "negative weight", budget: 3, min: 0,
			cells: []Cell{{Weight: -1, Var: nan}}, wantErr: ErrWeights},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Allocate(tt.cells, tt.budget, tt.min)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAllocateNeymanRatio: with large N (shrinkage negligible) the final
// counts approach n_h ∝ w_h σ_h.
func TestAllocateNeymanRatio(t *testing.T) {
	cells := []Cell{{Weight: 0.5, Var: 0.04, N: 1000}, {Weight: 0.5, Var: 0.16, N: 1000}}
	add, err := Allocate(cells, 4000, 0)
	if err != nil {
		t.Fatal(err)
	}
	n0, n1 := float64(cells[0].N+add[0]), float64(cells[1].N+add[1])
	// σ ratio 2: expect n1/n0 near 2 (shrinkage pulls slightly towards 1).
	if r := n1 / n0; r < 1.9 || r > 2.01 {
		t.Fatalf("n1/n0 = %.3f, want about 2", r)
	}
}

func TestResidualVariances(t *testing.T) {
	p := newPopulation(8, 3000)
	v, err := ResidualVariances(testStrata{}, p.recs)
	if err != nil {
		t.Fatal(err)
	}
	for h := range v {
		var f []float64
		for _, i := range p.byH[h] {
			f = append(f, p.recs[i].Real)
		}
		if !(v[h] > 0 && v[h] < variance(f)) {
			t.Fatalf("stratum %d: residual variance %g, outcome variance %g", h, v[h], variance(f))
		}
	}
	v, _ = ResidualVariances(testStrata{}, p.recs[:1])
	if n := 0; !math.IsNaN(v[0]) && !math.IsNaN(v[1]) && !math.IsNaN(v[2]) {
		t.Fatalf("one episode gave variances %v (%d)", v, n)
	}
}

// TestRandomInputsNeverBreak: small random inputs, with constant features,
// rare outcomes and lopsided strata, never panic and always give a finite
// interval around the estimate.
func TestRandomInputsNeverBreak(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 42))
	for trial := range 300 {
		n, k, p := 6+rng.IntN(40), rng.IntN(60), 1+rng.IntN(3)
		rate := []float64{0, 0.02, 0.5, 0.98, 1}[rng.IntN(5)]
		rec := func() ([]float64, []float64) {
			c := []float64{rng.Float64() * rng.Float64()}
			x := make([]float64, p)
			for j := range x {
				if rng.IntN(3) > 0 {
					x[j] = math.Round(rng.Float64()*3) / 3
				}
			}
			return c, x
		}
		var paired []Paired
		for h := range 3 {
			for range 2 {
				c, x := rec()
				c[0] = []float64{0.1, 0.4, 0.8}[h]
				paired = append(paired, Paired{Critical: c, Features: x})
			}
		}
		for len(paired) < n {
			c, x := rec()
			paired = append(paired, Paired{Critical: c, Features: x})
		}
		for i := range paired {
			if rng.Float64() < rate {
				paired[i].Real = 1
			}
		}
		var im []Imagined
		for range k {
			c, x := rec()
			im = append(im, Imagined{Critical: c, Features: x})
		}
		opts := Options{Seed: uint64(trial), BootstrapReps: 50}
		results := []func() (Result, error){
			func() (Result, error) { return RealOnly(reals(paired), opts) },
			func() (Result, error) { return ControlVariate(paired, im, opts) },
			func() (Result, error) {
				return Stratified(testStrata{}, []float64{0.2, 0.4, 0.4}, paired, im, opts)
			},
		}
		for i, run := range results {
			r, err := run()
			if err != nil {
				t.Fatalf("trial %d estimator %d: %v", trial, i, err)
			}
			for _, v := range []float64{r.Estimate, r.SE, r.Lo, r.Hi} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("trial %d estimator %d: %+v", trial, i, r)
				}
			}
			if r.Lo > r.Hi || (r.Lo > r.Estimate && r.Estimate >= 0) || (r.Hi < r.Estimate && r.Estimate <= 1) {
				t.Fatalf("trial %d estimator %d: interval [%g, %g] around %g", trial, i, r.Lo, r.Hi, r.Estimate)
			}
		}
	}
}
