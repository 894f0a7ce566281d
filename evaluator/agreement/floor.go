package agreement

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Floor is what a world model would score that gets every arm's success
// rate exactly right in expectation but whose episodes are independent of
// the real ones: each imagined episode a fresh Bernoulli draw at the arm's
// real rate. Its MMRV is not zero, because the protocol's finite episodes
// shuffle arms whose rates are close; a model scores below it only by
// tracking the real episodes one by one.
type Floor struct {
	// MMRV and Pearson are the means over the draws; MMRVMedian the
	// median.
	MMRV       float64 `json:"mmrv"`
	MMRVMedian float64 `json:"mmrv_median"`
	Pearson    float64 `json:"pearson"`
	Episodes   int     `json:"episodes"`
	Draws      int     `json:"draws"`
}

// IndependentFloor simulates Floor for arms with real success rates real,
// each predicted from episodes episodes, over draws draws (seeded).
func IndependentFloor(real []float64, episodes, draws int, seed uint64) (Floor, error) {
	if err := check(real, real, 2); err != nil {
		return Floor{}, err
	}
	if episodes < 1 || draws < 1 {
		return Floor{}, fmt.Errorf("%w: %d episodes, %d draws", ErrBadInput, episodes, draws)
	}
	rng := rand.New(rand.NewPCG(seed, 0xf1005))
	pred := make([]float64, len(real))
	mmrvs := make([]float64, draws)
	var sumR float64
	var nR int
	for d := range draws {
		drawRates(rng, pred, real, episodes)
		mmrvs[d], _ = MMRV(real, pred)
		if r := pearson(real, pred); !math.IsNaN(r) {
			sumR += r
			nR++
		}
	}
	f := Floor{Episodes: episodes, Draws: draws, Pearson: math.NaN()}
	for _, m := range mmrvs {
		f.MMRV += m / float64(draws)
	}
	sort.Float64s(mmrvs)
	f.MMRVMedian = mmrvs[draws/2]
	if nR > 0 {
		f.Pearson = sumR / float64(nR)
	}
	return f, nil
}

// SeedFloor is what this protocol's finite seeds alone do to MMRV at a
// given number of episodes per arm, with the real side drawn afresh too
// (IndependentFloor keeps it fixed): the real success rates of Episodes
// seeds are binomial draws around each arm's rate. Perfect is a model that
// predicts every arm's rate exactly; Independent one whose episodes are
// independent of the real ones (one per seed, at the arm's rate), which
// is what any model is once closed-loop episodes diverge. AtMost* are the
// fractions of draws whose MMRV is at most Target.
type SeedFloor struct {
	Episodes          int     `json:"episodes"`
	PerfectMMRV       float64 `json:"perfect_mmrv"`
	PerfectAtMost     float64 `json:"perfect_at_most_target"`
	IndependentMMRV   float64 `json:"independent_mmrv"`
	IndependentAtMost float64 `json:"independent_at_most_target"`
	Target            float64 `json:"target"`
	Draws             int     `json:"draws"`
}

// SeedFloors simulates SeedFloor for arms with rates rates at each episode
// count (seeded).
func SeedFloors(rates []float64, episodes []int, target float64, draws int, seed uint64) ([]SeedFloor, error) {
	if err := check(rates, rates, 2); err != nil {
		return nil, err
	}
	if draws < 1 {
		return nil, fmt.Errorf("%w: %d draws", ErrBadInput, draws)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	real, pred := make([]float64, len(rates)), make([]float64, len(rates))
	var out []SeedFloor
	for _, n := range episodes {
		if n < 1 {
			return nil, fmt.Errorf("%w: %d episodes", ErrBadInput, n)
		}
		f := SeedFloor{Episodes: n, Target: target, Draws: draws}
		var perfectOK, indepOK int
		for range draws {
			drawRates(rng, real, rates, n)
			perfect, _ := MMRV(real, rates)
			drawRates(rng, pred, rates, n)
			indep, _ := MMRV(real, pred)
			f.PerfectMMRV += perfect / float64(draws)
			f.IndependentMMRV += indep / float64(draws)
			if perfect <= target {
				perfectOK++
			}
			if indep <= target {
				indepOK++
			}
		}
		f.PerfectAtMost = float64(perfectOK) / float64(draws)
		f.IndependentAtMost = float64(indepOK) / float64(draws)
		out = append(out, f)
	}
	return out, nil
}

// drawRates sets dst[i] to the success rate of n Bernoulli episodes at
// rates[i].
func drawRates(rng *rand.Rand, dst, rates []float64, n int) {
	for i, p := range rates {
		k := 0
		for range n {
			if rng.Float64() < p {
				k++
			}
		}
		dst[i] = float64(k) / float64(n)
	}
}
