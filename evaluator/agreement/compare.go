package agreement

import (
	"dreamrank/foundation/stat"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"dreamrank/evaluator/ranking"
)

// Arm is one policy arm's per-episode outcomes in the real world (or
// simulator) and as predicted by the world model: 1/0 for success, or max
// rewards. An arm's rate is the mean of its outcomes.
type Arm struct {
	Name string
	Real []float64
	Pred []float64
}

// Resample says what the Pearson bootstrap resamples.
type Resample string

const (
	// ResampleArms (the default) draws arms with replacement, each with
	// its observed rates. The arms are a sample of the policies one could
	// evaluate and each observed rate already carries its episodes' noise,
	// so this interval covers the correlation that this protocol (these
	// episode counts) measures over the population of arms: the tested
	// coverage is near nominal. It uses BCa (bias-corrected and
	// accelerated, jackknife over arms), which holds its level better
	// than plain percentiles with the 8-20 arms evaluations have.
	ResampleArms Resample = "arms"
	// ResampleEpisodes keeps the arms and redraws each arm's episodes (the
	// same draws on both sides when Paired): how much r would move with
	// another batch of episodes on these very arms. It does not cover the
	// correlation of the arms' true rates, which episode noise attenuates
	// (bias-corrected percentiles).
	ResampleEpisodes Resample = "episodes"
	// ResampleBoth draws arms, then episodes within each drawn arm. It
	// counts episode noise twice, so it is conservative (wider than
	// ResampleArms).
	ResampleBoth Resample = "both"
)

// Options tune Compare; zero values take the defaults.
type Options struct {
	Confidence float64  // default 0.95
	Draws      int      // bootstrap draws, default 4000
	Seed       uint64   // default 1
	Resample   Resample // default ResampleArms
	// Paired: episode k of Real and of Pred ran the same seed, so episode
	// resampling keeps pairs together and Compare reports episode-level
	// agreement (for 0/1 outcomes).
	Paired bool
}

func (o *Options) defaults() error {
	if o.Confidence == 0 {
		o.Confidence = 0.95
	}
	if o.Draws == 0 {
		o.Draws = 4000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Resample == "" {
		o.Resample = ResampleArms
	}
	switch {
	case !(o.Confidence > 0 && o.Confidence < 1), o.Draws < 10:
		return fmt.Errorf("%w: confidence %v, draws %d", ErrBadInput, o.Confidence, o.Draws)
	case o.Resample != ResampleArms && o.Resample != ResampleEpisodes && o.Resample != ResampleBoth:
		return fmt.Errorf("%w: resample %q", ErrBadInput, o.Resample)
	}
	return nil
}

// Number and Interval are the ranking package's: NaN and infinities
// encode as JSON null, so a report always encodes.
type (
	Number   = ranking.Number
	Interval = ranking.Interval
)

// Report is the agreement of predicted with real outcomes over arms.
type Report struct {
	Arms      int       `json:"arms"`
	Names     []string  `json:"names"`
	RealRates []float64 `json:"real_rates"`
	PredRates []float64 `json:"pred_rates"`

	Pearson   Number   `json:"pearson"`
	PearsonCI Interval `json:"pearson_ci"`
	MMRV      Number   `json:"mmrv"`
	Spearman  Number   `json:"spearman"`
	Kendall   Number   `json:"kendall"`
	// Episodes is the paired episode-level agreement, when Options.Paired
	// and every outcome is 0 or 1.
	Episodes *EpisodeAgreement `json:"episode_agreement,omitempty"`

	Confidence float64  `json:"confidence"`
	Resample   Resample `json:"resample"`
	Draws      int      `json:"bootstrap_draws"`
	// Degenerate counts bootstrap draws without spread on one side (their
	// r is undefined); they are left out of the interval.
	Degenerate int `json:"degenerate_draws"`
}

// Compare measures the agreement of the arms' predicted rates with their
// real ones. Undefined statistics (no spread on a side) are NaN, not
// errors; only malformed input is an error.
func Compare(arms []Arm, opts Options) (Report, error) {
	if err := opts.defaults(); err != nil {
		return Report{}, err
	}
	if len(arms) < 2 {
		return Report{}, fmt.Errorf("%w: %d arms, need at least 2", ErrBadInput, len(arms))
	}
	rep := Report{Arms: len(arms), Confidence: opts.Confidence, Resample: opts.Resample, Draws: opts.Draws}
	for _, a := range arms {
		if len(a.Real) == 0 || len(a.Pred) == 0 {
			return Report{}, fmt.Errorf("%w: arm %q has %d real and %d predicted episodes", ErrBadInput, a.Name, len(a.Real), len(a.Pred))
		}
		if opts.Paired && len(a.Real) != len(a.Pred) {
			return Report{}, fmt.Errorf("%w: paired arm %q has %d real and %d predicted episodes", ErrBadInput, a.Name, len(a.Real), len(a.Pred))
		}
		rep.Names = append(rep.Names, a.Name)
		rep.RealRates = append(rep.RealRates, mean(a.Real))
		rep.PredRates = append(rep.PredRates, mean(a.Pred))
	}
	if err := check(rep.RealRates, rep.PredRates, 2); err != nil {
		return Report{}, err
	}
	r, err := Pearson(rep.RealRates, rep.PredRates)
	if err != nil && !errors.Is(err, ErrDegenerate) {
		return Report{}, err
	}
	rep.Pearson = Number(r)
	m, _ := MMRV(rep.RealRates, rep.PredRates)
	rep.MMRV = Number(m)
	s, _ := Spearman(rep.RealRates, rep.PredRates)
	rep.Spearman = Number(s)
	k, _ := Kendall(rep.RealRates, rep.PredRates)
	rep.Kendall = Number(k)
	rep.PearsonCI, rep.Degenerate = pearsonCI(arms, r, opts)
	if opts.Paired {
		var real, pred []bool
		binary := true
		for _, a := range arms {
			for i := range a.Real {
				binary = binary && (a.Real[i] == 0 || a.Real[i] == 1) && (a.Pred[i] == 0 || a.Pred[i] == 1)
				real, pred = append(real, a.Real[i] == 1), append(pred, a.Pred[i] == 1)
			}
		}
		if binary {
			ea, err := Episodes(real, pred)
			if err != nil {
				return Report{}, err
			}
			rep.Episodes = &ea
		}
	}
	return rep, nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// pearsonCI bootstraps r (see Resample) and returns the BCa interval
// (bias-corrected percentiles when arms are not resampled).
func pearsonCI(arms []Arm, r float64, opts Options) (Interval, int) {
	nan := Interval{Lo: Number(math.NaN()), Hi: Number(math.NaN())}
	if math.IsNaN(r) {
		return nan, 0
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0xb007))
	m := len(arms)
	real, pred := make([]float64, m), make([]float64, m)
	stats := make([]float64, 0, opts.Draws)
	degenerate := 0
	for range opts.Draws {
		for i := range m {
			a := i
			if opts.Resample != ResampleEpisodes {
				a = rng.IntN(m)
			}
			if opts.Resample == ResampleArms {
				real[i], pred[i] = mean(arms[a].Real), mean(arms[a].Pred)
				continue
			}
			real[i], pred[i] = resampledMeans(rng, arms[a], opts.Paired)
		}
		v := pearson(real, pred)
		if math.IsNaN(v) {
			degenerate++
			continue
		}
		stats = append(stats, v)
	}
	if len(stats) < opts.Draws/2 {
		return nan, degenerate
	}
	slices.Sort(stats)
	// Bias correction: where r sits among its bootstrap replicates.
	below := 0.0
	for _, v := range stats {
		if v < r {
			below++
		} else if v == r {
			below += 0.5
		}
	}
	p0 := min(max(below/float64(len(stats)), 0.5/float64(len(stats))), 1-0.5/float64(len(stats)))
	z0 := stat.NormalQuantile(p0)
	acc := 0.0
	if opts.Resample != ResampleEpisodes {
		acc = jackknifeAcceleration(arms)
	}
	alpha := (1 - opts.Confidence) / 2
	adjust := func(q float64) float64 {
		zq := stat.NormalQuantile(q)
		return normCDF(z0 + (z0+zq)/(1-acc*(z0+zq)))
	}
	return Interval{
		Lo: Number(quantile(stats, adjust(alpha))),
		Hi: Number(quantile(stats, adjust(1-alpha))),
	}, degenerate
}

// resampledMeans redraws an arm's episodes; paired arms draw the same
// episode indices on both sides.
func resampledMeans(rng *rand.Rand, a Arm, paired bool) (float64, float64) {
	var sr, sp float64
	if paired {
		for range a.Real {
			k := rng.IntN(len(a.Real))
			sr += a.Real[k]
			sp += a.Pred[k]
		}
		return sr / float64(len(a.Real)), sp / float64(len(a.Pred))
	}
	for range a.Real {
		sr += a.Real[rng.IntN(len(a.Real))]
	}
	for range a.Pred {
		sp += a.Pred[rng.IntN(len(a.Pred))]
	}
	return sr / float64(len(a.Real)), sp / float64(len(a.Pred))
}

// jackknifeAcceleration is BCa's acceleration from leave-one-arm-out r.
func jackknifeAcceleration(arms []Arm) float64 {
	m := len(arms)
	if m < 3 {
		return 0
	}
	thetas := make([]float64, 0, m)
	real, pred := make([]float64, 0, m-1), make([]float64, 0, m-1)
	for leave := range m {
		real, pred = real[:0], pred[:0]
		for i, a := range arms {
			if i != leave {
				real, pred = append(real, mean(a.Real)), append(pred, mean(a.Pred))
			}
		}
		if v := pearson(real, pred); !math.IsNaN(v) {
			thetas = append(thetas, v)
		}
	}
	if len(thetas) < 3 {
		return 0
	}
	bar := mean(thetas)
	var s2, s3 float64
	for _, t := range thetas {
		d := bar - t
		s2 += d * d
		s3 += d * d * d
	}
	if s2 == 0 {
		return 0
	}
	return s3 / (6 * math.Pow(s2, 1.5))
}

func normCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// quantile of sorted xs with linear interpolation.
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo < 0 {
		return sorted[0]
	}
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
