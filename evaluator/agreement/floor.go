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
		for i, p := range real {
			k := 0
			for range episodes {
				if rng.Float64() < p {
					k++
				}
			}
			pred[i] = float64(k) / float64(episodes)
		}
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
