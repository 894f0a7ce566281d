package estimate

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// scoredPopulation is a large population of binary outcomes with a score
// the world model would give: the outcome is a violation when a latent
// clearance is negative, the score is minus a noisy reading of it.
func scoredPopulation(seed uint64, n int) (scores, ys []float64, truth float64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	for range n {
		c := rng.NormFloat64() - 0.4
		y := 0.0
		if c < 0 {
			y = 1
		}
		scores = append(scores, -(c + 0.6*rng.NormFloat64()))
		ys = append(ys, y)
		truth += y
	}
	return scores, ys, truth / float64(n)
}

// twoPhaseExperiment draws an imagined sample of k from the population,
// runs the design with n real episodes in the given rounds, and returns
// the result.
func twoPhaseExperiment(t *testing.T, rng *rand.Rand, scores, ys []float64, k, n, H, rounds int) Result {
	return twoPhaseExperimentPrior(t, rng, scores, ys, k, n, H, rounds, nil)
}

// twoPhaseExperimentPrior is twoPhaseExperiment with the design told each
// unit's predicted chance (chance of the score) when chance is set.
func twoPhaseExperimentPrior(t *testing.T, rng *rand.Rand, scores, ys []float64, k, n, H, rounds int, chance func(score float64) float64) Result {
	t.Helper()
	drawn := make([]int, k)
	sc := make([]float64, k)
	for i := range drawn {
		drawn[i] = rng.IntN(len(scores))
		sc[i] = scores[drawn[i]]
	}
	strata, err := ScoreStrata(sc, H)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewTwoPhase(strata, H, rng.Uint64())
	if err != nil {
		t.Fatal(err)
	}
	if chance != nil {
		p := make([]float64, k)
		for i, s := range sc {
			p[i] = chance(s)
		}
		if err := d.SetPrior(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range TwoPhaseRounds(n, H, rounds) {
		units, err := d.Next(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			if err := d.Record(u, ys[drawn[u]]); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := d.Estimate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NReal != n {
		t.Fatalf("used %d real episodes, budget %d", res.NReal, n)
	}
	return res
}

// TestTwoPhaseUnbiasedAndCovers is the simulation check: over many
// experiments the estimate is unbiased, its standard error matches the
// spread of the estimates, and its interval covers the truth at about the
// nominal rate.
func TestTwoPhaseUnbiasedAndCovers(t *testing.T) {
	scores, ys, truth := scoredPopulation(1, 50000)
	// The score is minus a noisy clearance: a logistic of it is a sensible
	// predicted chance; the misleading one is sure where the score is
	// ambiguous and unsure where it is clear, so it sends episodes to the
	// wrong strata.
	sensible := func(s float64) float64 { return 1 / (1 + math.Exp(-2*s)) }
	misleading := func(s float64) float64 {
		if math.Abs(s) < 1 {
			return 0.01
		}
		return 0.5
	}
	for _, tc := range []struct {
		name              string
		k, n, H, rounds   int
		chance            func(float64) float64
		minCover, maxBias float64
	}{
		{name: "20 real, 1 round", k: 1000, n: 20, H: 4, rounds: 1, minCover: 0.93, maxBias: 0.01},
		{name: "50 real, 2 rounds", k: 1000, n: 50, H: 6, rounds: 2, minCover: 0.93, maxBias: 0.008},
		{name: "100 real, 3 rounds", k: 500, n: 100, H: 6, rounds: 3, minCover: 0.93, maxBias: 0.006},
		{name: "50 real, 2 rounds, sensible prior", k: 1000, n: 50, H: 6, rounds: 2, chance: sensible, minCover: 0.93, maxBias: 0.008},
		{name: "50 real, 2 rounds, misleading prior", k: 1000, n: 50, H: 6, rounds: 2, chance: misleading, minCover: 0.93, maxBias: 0.008},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, uint64(tc.n)))
			const reps = 600
			var est, se2 []float64
			covered := 0
			for range reps {
				r := twoPhaseExperimentPrior(t, rng, scores, ys, tc.k, tc.n, tc.H, tc.rounds, tc.chance)
				est, se2 = append(est, r.Estimate), append(se2, r.SE*r.SE)
				if r.Covers(truth) {
					covered++
				}
			}
			bias := mean(est) - truth
			mcse := math.Sqrt(variance(est) / reps)
			if math.Abs(bias) > math.Max(tc.maxBias, 3*mcse) {
				t.Errorf("bias %.4f (MC se %.4f)", bias, mcse)
			}
			cover := float64(covered) / reps
			if cover < tc.minCover {
				t.Errorf("coverage %.3f < %.2f", cover, tc.minCover)
			}
			// The floors make the formula conservative for tiny strata; it
			// must never be far below the truth, nor wildly above it.
			ratio := mean(se2) / variance(est)
			if ratio < 0.85 || ratio > 2.5 {
				t.Errorf("mean SE² / empirical variance = %.2f", ratio)
			}
			realOnly := truth * (1 - truth) / float64(tc.n)
			t.Logf("coverage %.3f, bias %+.4f, SE²/var %.2f, multiplier %.2f", cover, bias, ratio, realOnly/variance(est))
		})
	}
}

// TestTwoPhaseBeatsRealOnly: with an informative score the design's
// variance is well below real-only's at the same budget.
func TestTwoPhaseBeatsRealOnly(t *testing.T) {
	scores, ys, truth := scoredPopulation(3, 50000)
	rng := rand.New(rand.NewPCG(4, 4))
	var est []float64
	for range 400 {
		est = append(est, twoPhaseExperiment(t, rng, scores, ys, 1000, 50, 6, 2).Estimate)
	}
	mult := truth * (1 - truth) / 50 / variance(est)
	if mult < 1.5 {
		t.Errorf("effective real multiplier %.2f, want at least 1.5 with this score", mult)
	}
}

// TestTwoPhasePriorFirstRound: told the world model's chances, the first
// round already favours the uncertain stratum, and bad chances are refused.
func TestTwoPhasePriorFirstRound(t *testing.T) {
	strata := make([]int, 300)
	chance := make([]float64, 300)
	for i := range strata {
		strata[i] = i / 100
		chance[i] = []float64{0.02, 0.5, 0.98}[i/100]
	}
	d, err := NewTwoPhase(strata, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.SetPrior(chance[:10]); !errors.Is(err, ErrShape) {
		t.Errorf("10 chances for 300 units: %v", err)
	}
	chance[7] = 1.5
	if err := d.SetPrior(chance); !errors.Is(err, ErrShape) {
		t.Errorf("chance 1.5: %v", err)
	}
	chance[7] = 0.02
	if err := d.SetPrior(chance); err != nil {
		t.Fatal(err)
	}
	units, err := d.Next(30)
	if err != nil {
		t.Fatal(err)
	}
	per := make([]int, 3)
	for _, u := range units {
		per[strata[u]]++
	}
	if per[0] < 2 || per[2] < 2 || per[1] < 18 {
		t.Errorf("first round per stratum %v: want at least 2 each and most in the uncertain one", per)
	}
}

func TestTwoPhaseNextAllocates(t *testing.T) {
	// Stratum 0: 100 units, outcomes all 0; stratum 1: 100 units, half 1.
	strata := make([]int, 200)
	for i := 100; i < 200; i++ {
		strata[i] = 1
	}
	d, err := NewTwoPhase(strata, 2, 9)
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.Next(20)
	if err != nil {
		t.Fatal(err)
	}
	if n0 := countBelow(first, 100); n0 != 10 {
		t.Errorf("first round put %d of 20 in stratum 0, want 10 (proportional)", n0)
	}
	for k, u := range first {
		y := 0.0
		if u >= 100 && k%2 == 0 {
			y = 1
		}
		if err := d.Record(u, y); err != nil {
			t.Fatal(err)
		}
	}
	second, err := d.Next(40)
	if err != nil {
		t.Fatal(err)
	}
	if n0 := countBelow(second, 100); n0 >= 20 {
		t.Errorf("second round put %d of 40 in the certain stratum", n0)
	}
	if len(second) != 40 || len(slices.Compact(slices.Clone(second))) != 40 {
		t.Errorf("second round: %d units, want 40 distinct", len(second))
	}
	for _, u := range second {
		if slices.Contains(first, u) {
			t.Fatalf("unit %d chosen twice", u)
		}
	}
}

func countBelow(units []int, k int) int {
	n := 0
	for _, u := range units {
		if u < k {
			n++
		}
	}
	return n
}

func TestTwoPhaseDeterministicAndCapped(t *testing.T) {
	strata := []int{0, 0, 0, 1, 1, 1, 1, 1, 1, 1}
	a, _ := NewTwoPhase(strata, 2, 5)
	b, _ := NewTwoPhase(strata, 2, 5)
	ua, _ := a.Next(4)
	ub, _ := b.Next(4)
	if !slices.Equal(ua, ub) {
		t.Fatalf("same seed, different units: %v vs %v", ua, ub)
	}
	all, err := a.Next(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(ua)+len(all) != len(strata) {
		t.Errorf("took %d units of %d with a budget beyond them", len(ua)+len(all), len(strata))
	}
	if err := a.Record(99, 1); !errors.Is(err, ErrShape) {
		t.Errorf("record of unit 99: %v", err)
	}
	c, _ := NewTwoPhase(strata, 2, 5)
	if err := c.Record(0, 1); !errors.Is(err, ErrShape) {
		t.Errorf("record of an unchosen unit: %v", err)
	}
	if _, err := c.Estimate(Options{}); !errors.Is(err, ErrTooFew) {
		t.Errorf("estimate with no outcomes: %v", err)
	}
}

func TestTwoPhaseCensusIsExact(t *testing.T) {
	// Every unit run for real: the estimate is the sample mean.
	strata := []int{0, 1, 0, 1, 2, 2}
	ys := []float64{1, 0, 0, 0, 1, 1}
	d, _ := NewTwoPhase(strata, 3, 1)
	units, _ := d.Next(6)
	for _, u := range units {
		_ = d.Record(u, ys[u])
	}
	r, err := d.Estimate(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.Estimate-0.5) > 1e-12 {
		t.Errorf("estimate %g, want 0.5", r.Estimate)
	}
}

func TestScoreStrata(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scores []float64
		H      int
		want   []int
	}{
		{name: "ordered by score", scores: []float64{5, 1, 3, 2, 4, 0}, H: 3, want: []int{2, 0, 1, 1, 2, 0}},
		{name: "ties by unit order", scores: []float64{1, 1, 1, 1}, H: 2, want: []int{0, 0, 1, 1}},
		{name: "one stratum", scores: []float64{3, 2}, H: 1, want: []int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ScoreStrata(tc.scores, tc.H)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if _, err := ScoreStrata([]float64{math.NaN()}, 2); !errors.Is(err, ErrShape) {
		t.Errorf("NaN score: %v", err)
	}
}

func TestTwoPhaseStrata(t *testing.T) {
	for _, tc := range []struct {
		name             string
		budget, imagined int
		want             int
	}{
		{"tiny budget", 1, 200, 1},
		{"budget 5", 5, 200, 1},
		{"budget 6", 6, 200, 2},
		{"budget 15", 15, 200, 5},
		{"budget 20", 20, 200, 6},
		{"budget 50", 50, 1000, 6},
		{"large budget capped at 6", 100, 1000, 6},
		{"few imagined units", 40, 7, 3},
		{"budget 12, few imagined units", 12, 5, 2},
		{"one imagined unit", 40, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TwoPhaseStrata(tc.budget, tc.imagined); got != tc.want {
				t.Errorf("TwoPhaseStrata(%d, %d) = %d, want %d", tc.budget, tc.imagined, got, tc.want)
			}
		})
	}
}

func TestTwoPhaseRounds(t *testing.T) {
	tests := []struct {
		name              string
		budget, H, rounds int
		want              []int
	}{
		{"even split", 20, 5, 2, []int{10, 10}},
		{"first round a multiple of H", 24, 6, 2, []int{12, 12}},
		{"first round rounded up", 22, 5, 2, []int{15, 7}},
		{"two per stratum first", 8, 2, 4, []int{4, 2, 1, 1}},
		{"one round", 20, 5, 1, []int{20}},
		{"three rounds", 30, 5, 3, []int{10, 10, 10}},
		{"budget 2, one stratum", 2, 1, 2, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TwoPhaseRounds(tc.budget, tc.H, tc.rounds)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("TwoPhaseRounds(%d, %d, %d) = %v, want %v", tc.budget, tc.H, tc.rounds, got, tc.want)
			}
			sum := 0
			for _, b := range got {
				sum += b
			}
			if sum != tc.budget || got[0]%tc.H != 0 || got[0] < min(tc.budget, 2*tc.H) {
				t.Fatalf("rounds %v: sum %d of %d, first not a multiple of %d or below 2 per stratum", got, sum, tc.budget, tc.H)
			}
		})
	}
}
