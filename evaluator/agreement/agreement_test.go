package agreement

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) != math.IsNaN(want) {
		t.Errorf("%s = %.7g, want %.7g", name, got, want)
	}
}

func TestMMRV(t *testing.T) {
	for _, tc := range []struct {
		name       string
		real, pred []float64
		want       float64
	}{
		{"same order", []float64{0.1, 0.5, 0.9}, []float64{0.2, 0.3, 0.4}, 0},
		// Only pair (0,1) is misordered; arms 0 and 1 each lose |0.1-0.5|.
		{"one swap", []float64{0.1, 0.5, 0.9}, []float64{0.5, 0.1, 0.9}, (0.4 + 0.4 + 0) / 3},
		// Pair (0,1) misordered: the weight is the REAL gap 0.1 for arms 0
		// and 1 (the predicted gap is 0.5).
		{"real weights", []float64{0.1, 0.2, 0.9}, []float64{0.6, 0.1, 0.9}, (0.1 + 0.1) / 3},
		// The same arms with the roles swapped: the weight is now 0.5.
		{"real weights swapped", []float64{0.6, 0.1, 0.9}, []float64{0.1, 0.2, 0.9}, (0.5 + 0.5) / 3},
		// Max over j: arm 0 is misordered against both 1 (gap 0.2) and 2
		// (gap 0.7); arms 1 and 2 against 0 only.
		{"max over j", []float64{0.1, 0.3, 0.8}, []float64{0.9, 0.5, 0.6}, (0.7 + 0.2 + 0.7) / 3},
		// A predicted tie on a real gap: (S_0>S_1)=false != (R_0>R_1)=true
		// counts for arm 0 only, as the definition reads.
		{"predicted tie", []float64{0.8, 0.2}, []float64{0.5, 0.5}, (0.6 + 0) / 2},
		{"one arm", []float64{0.4}, []float64{0.9}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MMRV(tc.real, tc.pred)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "MMRV", got, tc.want, 1e-12)
		})
	}
	if _, err := MMRV([]float64{1}, []float64{1, 2}); !errors.Is(err, ErrBadInput) {
		t.Errorf("mismatched lengths: %v", err)
	}
}

func TestCorrelations(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		x, y                       []float64
		pearson, spearman, kendall float64
	}{
		// dx = dy' = (-1,0,1), (-1,1,0): 1/2 for all three.
		{"three", []float64{1, 2, 3}, []float64{1, 3, 2}, 0.5, 0.5, 1.0 / 3},
		{"perfect order", []float64{0.1, 0.4, 0.9}, []float64{0.2, 0.3, 0.35}, 0.9449112, 1, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{8, 6, 4, 2}, -1, -1, -1},
		// Ties: mid-ranks x (1, 2.5, 2.5, 4), y (1, 3, 2, 4):
		// spearman 4.5/sqrt(4.5*5); tau-b 5 concordant, 1 x-tie, of 6
		// pairs: 5/sqrt(5*6).
		{"ties", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 4}, 0.9486833, 4.5 / math.Sqrt(22.5), 5 / math.Sqrt(30)},
		// A pair tied on both sides counts in both tie terms: pairs
		// (0,1) C, (0,2) C, (1,2) tied both: 2/sqrt(2*2) = 1.
		{"tied both", []float64{1, 2, 2}, []float64{1, 3, 3}, 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Pearson(tc.x, tc.y)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := Spearman(tc.x, tc.y)
			k, _ := Kendall(tc.x, tc.y)
			near(t, "pearson", p, tc.pearson, 1e-4)
			near(t, "spearman", s, tc.spearman, 1e-9)
			near(t, "kendall", k, tc.kendall, 1e-9)
		})
	}
	if _, err := Pearson([]float64{1, 1, 1}, []float64{1, 2, 3}); !errors.Is(err, ErrDegenerate) {
		t.Errorf("constant side: %v, want ErrDegenerate", err)
	}
	if _, err := Kendall([]float64{1, 1}, []float64{1, 2}); !errors.Is(err, ErrDegenerate) {
		t.Errorf("constant side: %v, want ErrDegenerate", err)
	}
}

func TestEpisodes(t *testing.T) {
	real := []bool{true, true, true, false, false, true}
	pred := []bool{true, true, false, false, true, true}
	a, err := Episodes(real, pred)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Confusion{TP: 3, FP: 1, FN: 1, TN: 1}); a.Confusion != want {
		t.Errorf("confusion %+v, want %+v", a.Confusion, want)
	}
	near(t, "accuracy", a.Accuracy, 4.0/6, 1e-12)
	// Chance agreement: both call success 4/6 of the time: (2/3)²+(1/3)².
	chance := 4.0/9 + 1.0/9
	near(t, "kappa", float64(a.Kappa), (4.0/6-chance)/(1-chance), 1e-12)
	if _, err := Episodes(real, pred[:2]); !errors.Is(err, ErrBadInput) {
		t.Errorf("mismatched: %v", err)
	}
	// Both sides calling everything the same leave kappa undefined: it
	// must still encode (a job's result holding it once failed to).
	same, err := Episodes([]bool{true, true}, []bool{true, true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(same)
	if err != nil || !strings.Contains(string(raw), `"kappa":null`) {
		t.Errorf("undefined kappa encodes as %s, %v; want null", raw, err)
	}
}

func outcomes(rng *rand.Rand, p float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		if rng.Float64() < p {
			out[i] = 1
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	var arms []Arm
	for i := range 6 {
		p := 0.1 + 0.15*float64(i)
		arms = append(arms, Arm{Name: string(rune('a' + i)), Real: outcomes(rng, p, 40), Pred: outcomes(rng, p, 40)})
	}
	for _, mode := range []Resample{ResampleArms, ResampleEpisodes, ResampleBoth} {
		t.Run(string(mode), func(t *testing.T) {
			rep, err := Compare(arms, Options{Resample: mode, Paired: true, Draws: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if !(rep.PearsonCI.Lo <= rep.Pearson && rep.Pearson <= rep.PearsonCI.Hi) {
				t.Errorf("r %.3f outside its interval [%.3f, %.3f]", rep.Pearson, rep.PearsonCI.Lo, rep.PearsonCI.Hi)
			}
			want, _ := Pearson(rep.RealRates, rep.PredRates)
			near(t, "pearson", float64(rep.Pearson), want, 0)
			if rep.Episodes == nil || rep.Episodes.Episodes != 240 {
				t.Errorf("episode agreement %+v", rep.Episodes)
			}
			again, _ := Compare(arms, Options{Resample: mode, Paired: true, Draws: 1000})
			if again.PearsonCI != rep.PearsonCI {
				t.Error("same seed, different interval")
			}
		})
	}
	// A constant real side: statistics are null in JSON, not an error.
	flat := []Arm{{Name: "a", Real: []float64{1, 1}, Pred: []float64{1, 0}}, {Name: "b", Real: []float64{1, 1}, Pred: []float64{0, 0}}}
	rep, err := Compare(flat, Options{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"pearson":null`) {
		t.Errorf("degenerate pearson in JSON: %s", js)
	}
	for _, tc := range []struct {
		name string
		arms []Arm
		opts Options
	}{
		{"one arm", arms[:1], Options{}},
		{"empty arm", []Arm{arms[0], {Name: "x"}}, Options{}},
		{"paired lengths", []Arm{arms[0], {Name: "x", Real: []float64{1}, Pred: []float64{1, 0}}}, Options{Paired: true}},
		{"resample", arms, Options{Resample: "seeds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Compare(tc.arms, tc.opts); !errors.Is(err, ErrBadInput) {
				t.Errorf("got %v, want ErrBadInput", err)
			}
		})
	}
}

// TestPearsonCICoverage simulates evaluations of 12 arms drawn from a
// population (true real rate R ~ U(0.2, 0.8), predicted S = R + U(-0.15,
// 0.15)), 50 episodes per arm on each side, and checks that the arms
// bootstrap covers the correlation this protocol measures over the
// population: Cov(R,S) / sqrt(Var(R_obs) Var(S_obs)), where an observed
// rate adds binomial variance E[p(1-p)]/n.
func TestPearsonCICoverage(t *testing.T) {
	const experiments, arms, n = 1000, 12, 50
	varR, varE := 0.6*0.6/12, 0.3*0.3/12
	varS := varR + varE
	pqR := 0.5 - (varR + 0.25) // E[R(1-R)] with E[R] = 1/2
	pqS := 0.5 - (varS + 0.25)
	truth := varR / math.Sqrt((varR+pqR/n)*(varS+pqS/n))
	rng := rand.New(rand.NewPCG(11, 12))
	covered := 0
	for e := range experiments {
		as := make([]Arm, arms)
		for i := range as {
			r := 0.2 + 0.6*rng.Float64()
			s := r - 0.15 + 0.3*rng.Float64()
			as[i] = Arm{Real: outcomes(rng, r, n), Pred: outcomes(rng, s, n)}
		}
		rep, err := Compare(as, Options{Draws: 1000, Seed: uint64(e + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if float64(rep.PearsonCI.Lo) <= truth && truth <= float64(rep.PearsonCI.Hi) {
			covered++
		}
	}
	rate := float64(covered) / experiments
	t.Logf("truth %.4f; BCa 95%% over arms covered %.3f of %d", truth, rate, experiments)
	// 3 standard errors of a simulated 95% rate over 1000 experiments is
	// 0.021; small-sample bootstrap intervals for r run a little short
	// (0.941 over 1500 experiments).
	if rate < 0.92 || rate > 0.98 {
		t.Errorf("covered %.3f, want about 0.95", rate)
	}
}
