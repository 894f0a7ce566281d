package ranking

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
		t.Errorf("%s = %.7g, want %.7g (±%g)", name, got, want, tol)
	}
}

func TestRank(t *testing.T) {
	bools := func(k, n int) []bool {
		b := make([]bool, n)
		for i := range k {
			b[i] = true
		}
		return b
	}
	t.Run("one success against one failure", func(t *testing.T) {
		// P(Beta(2,1) > Beta(1,2)) = ∫ 2x (2x - x²) dx = 5/6.
		r, err := Rank([]Arm{{Name: "a", Success: bools(1, 1)}, {Name: "b", Success: bools(0, 1)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "P(a beats b)", r.PBeats[0][1], 5.0/6, 0.01)
		near(t, "P(b beats a)", r.PBeats[1][0], 1.0/6, 0.01)
		near(t, "P(a best)", r.Arms[0].PBest, 5.0/6, 0.01)
		if r.Arms[0].RankLo != 1 || r.Arms[0].RankHi != 2 {
			t.Errorf("rank interval of a [%d,%d], want [1,2]", r.Arms[0].RankLo, r.Arms[0].RankHi)
		}
	})
	t.Run("equal arms", func(t *testing.T) {
		r, err := Rank([]Arm{{Name: "a", Success: bools(7, 10)}, {Name: "b", Success: bools(7, 10)}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "P(a beats b)", r.PBeats[0][1], 0.5, 0.01)
		if r.Arms[0].Rank != 1 || r.Arms[1].Rank != 1 {
			t.Errorf("tied arms ranked %d and %d, want 1 and 1", r.Arms[0].Rank, r.Arms[1].Rank)
		}
	})
	t.Run("separated arms", func(t *testing.T) {
		arms := []Arm{
			{Name: "mid", Success: bools(25, 50), MaxReward: []float64{0.5, 0.7}},
			{Name: "top", Success: bools(50, 50)},
			{Name: "low", Success: bools(0, 50)},
		}
		arms[0].MaxReward = make([]float64, 50)
		for i := range arms[0].MaxReward {
			arms[0].MaxReward[i] = float64(i%2) * 0.5
		}
		r, err := Rank(arms, Options{Draws: 5000, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 0, 2}; !equal(r.Order, want) {
			t.Errorf("order %v, want %v", r.Order, want)
		}
		for i, want := range []int{2, 1, 3} {
			a := r.Arms[i]
			if a.Rank != want || a.RankLo != want || a.RankHi != want {
				t.Errorf("%s: rank %d [%d,%d], want %d exactly", a.Name, a.Rank, a.RankLo, a.RankHi, want)
			}
		}
		near(t, "mid mean reward", float64(r.Arms[0].MeanMaxReward), 0.25, 1e-12)
		if !math.IsNaN(float64(r.Arms[1].MeanMaxReward)) {
			t.Errorf("top has no rewards, mean %v", r.Arms[1].MeanMaxReward)
		}
		if js, err := json.Marshal(r); err != nil || !strings.Contains(string(js), `"mean_max_reward":null`) {
			t.Errorf("JSON of an arm without rewards: %v %.300s", err, js)
		}
		near(t, "P(top beats low)", r.PBeats[1][2], 1, 1e-9)
		// Reproducible for a seed.
		again, _ := Rank(arms, Options{Draws: 5000, Seed: 7})
		if again.PBeats[0][2] != r.PBeats[0][2] || again.Arms[0].ExpectedRank != r.Arms[0].ExpectedRank {
			t.Error("same seed, different result")
		}
	})
	for _, tc := range []struct {
		name string
		arms []Arm
		opts Options
	}{
		{"no arms", nil, Options{}},
		{"empty arm", []Arm{{Name: "a"}}, Options{}},
		{"rewards mismatch", []Arm{{Name: "a", Success: []bool{true}, MaxReward: []float64{1, 0}}}, Options{}},
		{"confidence", []Arm{{Name: "a", Success: []bool{true}}}, Options{Confidence: 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Rank(tc.arms, tc.opts); !errors.Is(err, ErrBadInput) {
				t.Errorf("got %v, want ErrBadInput", err)
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The coverage tests simulate many experiments with known truth and check
// that intervals cover it at about their nominal rate. Fixed seeds; the
// tolerances are about 3 standard errors of the simulated rate.

// TestPosteriorCalibration draws true rates from the uniform prior the
// posterior assumes; then "P(i beats j) > 0.95" must be right at least 95%
// of the time, and rank intervals must cover the true rank at least at
// their nominal rate.
func TestPosteriorCalibration(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const experiments, arms, n = 400, 4, 20
	var confident, right, rankCovered, rankTotal int
	for e := range experiments {
		truth := make([]float64, arms)
		as := make([]Arm, arms)
		for i := range as {
			truth[i] = rng.Float64()
			as[i].Success = make([]bool, n)
			for k := range as[i].Success {
				as[i].Success[k] = rng.Float64() < truth[i]
			}
		}
		r, err := Rank(as, Options{Draws: 2000, Seed: uint64(e + 1)})
		if err != nil {
			t.Fatal(err)
		}
		for i := range arms {
			rank := 1
			for j := range arms {
				if truth[j] > truth[i] {
					rank++
				}
				if i != j && r.PBeats[i][j] > 0.95 {
					confident++
					if truth[i] > truth[j] {
						right++
					}
				}
			}
			rankTotal++
			if r.Arms[i].RankLo <= rank && rank <= r.Arms[i].RankHi {
				rankCovered++
			}
		}
	}
	if confident < 100 {
		t.Fatalf("only %d confident calls; the test needs more", confident)
	}
	if rate := float64(right) / float64(confident); rate < 0.95 {
		t.Errorf("P(beats) > 0.95 was right %.3f of %d times", rate, confident)
	}
	if rate := float64(rankCovered) / float64(rankTotal); rate < 0.93 {
		t.Errorf("rank intervals covered the true rank %.3f of the time", rate)
	}
	t.Logf("confident calls %d right %.3f; rank coverage %.3f", confident, float64(right)/float64(confident), float64(rankCovered)/float64(rankTotal))
}
