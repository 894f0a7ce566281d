// Package agreement measures how well a world model's evaluation predicts
// the real one: across arms (Pearson r with a bootstrap interval, MMRV,
// Spearman, Kendall tau-b) and episode by episode when both sides ran the
// same seeds (accuracy and confusion of the success calls).
//
// It is pure: outcomes in, numbers out; the bootstrap draws from a
// generator seeded by Options.Seed.
//
// MMRV follows docs/references.md section 2 exactly (SIMPLER, Li et al. 2024):
//
//	MMRV = (1/N) sum_i max_j |R_i - R_j| * 1[(S_i > S_j) != (R_i > R_j)]
//
// with R the real and S the predicted rates. The weight uses the real
// rates, so MMRV(real, pred) != MMRV(pred, real) in general; SIMPLER's own
// docs call their function with the arguments swapped.
package agreement

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Sentinel errors.
var (
	// ErrBadInput: lengths that do not match, too few arms, NaNs.
	ErrBadInput = errors.New("agreement: bad input")
	// ErrDegenerate: a correlation of values without spread (every arm at
	// the same rate on one side) is undefined.
	ErrDegenerate = errors.New("agreement: no spread, correlation undefined")
)

func check(real, pred []float64, minN int) error {
	if len(real) != len(pred) {
		return fmt.Errorf("%w: %d real values, %d predicted", ErrBadInput, len(real), len(pred))
	}
	if len(real) < minN {
		return fmt.Errorf("%w: %d arms, need at least %d", ErrBadInput, len(real), minN)
	}
	for i := range real {
		if math.IsNaN(real[i]) || math.IsNaN(pred[i]) {
			return fmt.Errorf("%w: NaN at arm %d", ErrBadInput, i)
		}
	}
	return nil
}

// Pearson is the sample correlation of x and y. Unlike SIMPLER, which adds
// 1e-8 to the denominator and so reports 0 for a constant side, it returns
// ErrDegenerate there: 0 would read as "no agreement" when the truth is
// "nothing to agree on".
func Pearson(x, y []float64) (float64, error) {
	if err := check(x, y, 2); err != nil {
		return math.NaN(), err
	}
	r := pearson(x, y)
	if math.IsNaN(r) {
		return r, ErrDegenerate
	}
	return r, nil
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return max(-1, min(1, sxy/math.Sqrt(sxx*syy)))
}

// MMRV is the mean maximum rank violation of predicted rates pred against
// real rates real (argument order matters: the weights are real gaps).
func MMRV(real, pred []float64) (float64, error) {
	if err := check(real, pred, 1); err != nil {
		return math.NaN(), err
	}
	var sum float64
	for i := range real {
		var worst float64
		for j := range real {
			if (pred[i] > pred[j]) != (real[i] > real[j]) {
				worst = max(worst, math.Abs(real[i]-real[j]))
			}
		}
		sum += worst
	}
	return sum / float64(len(real)), nil
}

// Spearman is the rank correlation: Pearson of the mid-ranks, so ties get
// the mean of the ranks they span.
func Spearman(x, y []float64) (float64, error) {
	if err := check(x, y, 2); err != nil {
		return math.NaN(), err
	}
	r := pearson(midRanks(x), midRanks(y))
	if math.IsNaN(r) {
		return r, ErrDegenerate
	}
	return r, nil
}

func midRanks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for lo := 0; lo < len(idx); {
		hi := lo + 1
		for hi < len(idx) && x[idx[hi]] == x[idx[lo]] {
			hi++
		}
		// Positions lo..hi-1 hold ranks lo+1..hi: their mean.
		mid := float64(lo+1+hi) / 2
		for k := lo; k < hi; k++ {
			r[idx[k]] = mid
		}
		lo = hi
	}
	return r
}

// Kendall is Kendall's tau-b, which corrects for ties on either side:
// (concordant - discordant) / sqrt((n0 - ties_x) * (n0 - ties_y)) with n0
// the number of pairs; pairs tied on both sides count in both tie terms.
func Kendall(x, y []float64) (float64, error) {
	if err := check(x, y, 2); err != nil {
		return math.NaN(), err
	}
	var conc, disc, tx, ty, n0 float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			n0++
			sx, sy := sign(x[i]-x[j]), sign(y[i]-y[j])
			switch {
			case sx == 0 && sy == 0:
				tx++
				ty++
			case sx == 0:
				tx++
			case sy == 0:
				ty++
			case sx == sy:
				conc++
			default:
				disc++
			}
		}
	}
	den := math.Sqrt((n0 - tx) * (n0 - ty))
	if den == 0 {
		return math.NaN(), ErrDegenerate
	}
	return (conc - disc) / den, nil
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// Confusion counts predicted success calls against real outcomes, episode
// by episode: TP both succeeded, FP predicted success on a real failure, FN
// predicted failure on a real success, TN both failed.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
	TN int `json:"tn"`
}

// EpisodeAgreement is the paired, episode-level agreement of predicted and
// real success over episodes that share a seed.
type EpisodeAgreement struct {
	Episodes  int       `json:"episodes"`
	Accuracy  float64   `json:"accuracy"`
	Confusion Confusion `json:"confusion"`
	// Kappa is Cohen's kappa: accuracy corrected for the agreement two
	// independent callers with these success rates would reach by chance
	// (NaN, null in JSON, when both sides call everything the same).
	Kappa Number `json:"kappa"`
}

// Episodes compares paired success calls: real[i] and pred[i] are the same
// seed in the simulator (or fleet) and in the world model.
func Episodes(real, pred []bool) (EpisodeAgreement, error) {
	if len(real) != len(pred) || len(real) == 0 {
		return EpisodeAgreement{}, fmt.Errorf("%w: %d real and %d predicted episodes", ErrBadInput, len(real), len(pred))
	}
	var a EpisodeAgreement
	for i := range real {
		switch {
		case pred[i] && real[i]:
			a.Confusion.TP++
		case pred[i]:
			a.Confusion.FP++
		case real[i]:
			a.Confusion.FN++
		default:
			a.Confusion.TN++
		}
	}
	c := a.Confusion
	n := float64(len(real))
	a.Episodes = len(real)
	a.Accuracy = float64(c.TP+c.TN) / n
	pr, pp := float64(c.TP+c.FN)/n, float64(c.TP+c.FP)/n
	chance := pr*pp + (1-pr)*(1-pp)
	a.Kappa = Number(math.NaN())
	if chance < 1 {
		a.Kappa = Number((a.Accuracy - chance) / (1 - chance))
	}
	return a, nil
}

// Successes turns per-episode success into the 1/0 outcomes Arm holds.
func Successes(b []bool) []float64 {
	out := make([]float64, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}
