package judge

import (
	"fmt"
	"math"
	"slices"
)

// Confusion counts success calls against the truth: TP called success on a
// success, FP called success on a failure, FN missed a success, TN called
// failure on a failure.
type Confusion struct {
	TP int `json:"tp"`
	FP int `json:"fp"`
	FN int `json:"fn"`
	TN int `json:"tn"`
}

// Add counts one call.
func (c *Confusion) Add(called, truth bool) {
	switch {
	case called && truth:
		c.TP++
	case called:
		c.FP++
	case truth:
		c.FN++
	default:
		c.TN++
	}
}

// N is the number of calls.
func (c Confusion) N() int { return c.TP + c.FP + c.FN + c.TN }

// Accuracy is the fraction of correct calls (NaN with no calls).
func (c Confusion) Accuracy() float64 { return float64(c.TP+c.TN) / float64(c.N()) }

// Report measures a judge against ground truth. Coverage errors are
// absolute differences of per-step coverage over every judged frame
// (unreadable frames included, scored as the judge scored them).
type Report struct {
	Episodes   int `json:"episodes"`
	Frames     int `json:"frames"`
	Unreadable int `json:"unreadable_frames"`

	CoverageMAE    float64 `json:"coverage_mae"`
	CoverageMedian float64 `json:"coverage_median_err"`
	CoverageP95    float64 `json:"coverage_p95_err"`
	CoverageMax    float64 `json:"coverage_max_err"`
	MaxRewardMAE   float64 `json:"max_reward_mae"`

	// FrameSuccess is the per-frame call "coverage above the threshold";
	// it is where a judge's errors near the threshold show.
	FrameSuccess  Confusion `json:"frame_success"`
	FrameAccuracy float64   `json:"frame_success_accuracy"`
	// EpisodeSuccess is the per-episode call "some frame succeeded", the
	// number a success rate is made of.
	EpisodeSuccess  Confusion `json:"episode_success"`
	EpisodeAccuracy float64   `json:"episode_success_accuracy"`
	// EpisodeSuccessClear is EpisodeSuccess over the episodes whose true
	// best coverage lies farther than ClearBand from the threshold: the
	// calls that a coverage error of about ClearBand cannot flip.
	EpisodeSuccessClear  Confusion `json:"episode_success_clear"`
	EpisodeAccuracyClear float64   `json:"episode_success_accuracy_clear"`
	ClearBand            float64   `json:"clear_band"`
	// SuccessStepMAE is the mean absolute difference of the first
	// successful step over the SuccessStepN episodes where both succeed.
	SuccessStepMAE float64 `json:"success_step_mae"`
	SuccessStepN   int     `json:"success_step_n"`
}

// ClearBand is the half-width of the band around the success threshold in
// which Report.EpisodeSuccessClear leaves episodes out: about the p95
// coverage error of the PushT vision judge on real frames.
const ClearBand = 0.01

// Compare measures verdicts against the true per-step coverage of the same
// episodes (truth[i][t] for frame t of episode i), with the success
// threshold of the task (PushT: pusht.SuccessCoverage).
func Compare(verdicts []Verdict, truth [][]float64, threshold float64) (Report, error) {
	if len(verdicts) != len(truth) {
		return Report{}, fmt.Errorf("%w: %d verdicts for %d episodes", ErrBadInput, len(verdicts), len(truth))
	}
	rep := Report{ClearBand: ClearBand}
	var errs []float64
	var rewardErr, stepErr float64
	for i, v := range verdicts {
		tc := truth[i]
		if len(v.Coverage) != len(tc) {
			return Report{}, fmt.Errorf("%w: episode %d: %d judged steps, %d true", ErrBadInput, i, len(v.Coverage), len(tc))
		}
		tv := Score(tc, threshold)
		for t := range tc {
			errs = append(errs, math.Abs(v.Coverage[t]-tc[t]))
			rep.FrameSuccess.Add(v.Coverage[t] > threshold, tc[t] > threshold)
		}
		rep.EpisodeSuccess.Add(v.Success, tv.Success)
		best := math.Inf(-1)
		for _, c := range tc {
			best = max(best, c)
		}
		if math.Abs(best-threshold) > ClearBand {
			rep.EpisodeSuccessClear.Add(v.Success, tv.Success)
		}
		rewardErr += math.Abs(v.MaxReward - tv.MaxReward)
		if v.Success && tv.Success {
			stepErr += math.Abs(float64(v.SuccessStep - tv.SuccessStep))
			rep.SuccessStepN++
		}
		rep.Unreadable += v.Unreadable
	}
	rep.Episodes, rep.Frames = len(verdicts), len(errs)
	if len(errs) > 0 {
		slices.Sort(errs)
		var s float64
		for _, e := range errs {
			s += e
		}
		rep.CoverageMAE = s / float64(len(errs))
		rep.CoverageMedian = quantile(errs, 0.5)
		rep.CoverageP95 = quantile(errs, 0.95)
		rep.CoverageMax = errs[len(errs)-1]
		rep.FrameAccuracy = rep.FrameSuccess.Accuracy()
	}
	if rep.Episodes > 0 {
		rep.MaxRewardMAE = rewardErr / float64(rep.Episodes)
		rep.EpisodeAccuracy = rep.EpisodeSuccess.Accuracy()
	}
	if rep.EpisodeSuccessClear.N() > 0 {
		rep.EpisodeAccuracyClear = rep.EpisodeSuccessClear.Accuracy()
	}
	if rep.SuccessStepN > 0 {
		rep.SuccessStepMAE = stepErr / float64(rep.SuccessStepN)
	}
	return rep, nil
}

// quantile of sorted xs with linear interpolation (numpy's default).
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
