package job

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
	"dreamrank/scenarios"
)

// RealEpisodes are one arm's real episodes, on seeds it was also imagined
// on, in the order requested.
type RealEpisodes struct {
	Arm       string    `json:"arm"`
	Seeds     []int64   `json:"seeds"`
	Success   []bool    `json:"success"`
	MaxReward []float64 `json:"max_reward"`
	// Violated is set for safety scenarios: did the pusher enter the
	// keep-out zone.
	Violated []bool `json:"violated,omitempty"`
	// Source says who played them ("fleet", "simulator").
	Source string `json:"source,omitempty"`
}

// ArmEstimate is an arm's rate of the scenario's event (success, or a
// safety violation) from its real episodes alone and from estimators that
// add every imagined episode (evaluator/estimate), with the real budget
// used.
type ArmEstimate struct {
	Arm        string          `json:"arm"`
	Event      string          `json:"event"`
	RealBudget int             `json:"real_budget"`
	Imagined   int             `json:"imagined"`
	RealOnly   estimate.Result `json:"real_only"`
	// ControlVariate is the PPI++ estimate with the imagined outcome as
	// control variate. It assumes its real episodes are a simple random
	// sample of the arm's imagined seeds; under a two-phase design they are
	// not (most go where the world model is least certain), so it, RealOnly
	// and Stratified then use the first round's proportional share only
	// (Design.Share; see CalibrateDesigns).
	ControlVariate estimate.Result `json:"control_variate"`
	// Stratified is the stratified sparse control variate, for scenarios
	// with strata, when every stratum got 2 real episodes.
	Stratified *estimate.Result `json:"stratified,omitempty"`
	// TwoPhase is the two-phase stratified estimate on every real episode
	// of the arm's design (estimate.TwoPhase), when the real episodes were
	// chosen by one and every stratum got 2.
	TwoPhase *estimate.Result `json:"two_phase,omitempty"`
	// Design is how the arm's real episodes were chosen, when by a
	// two-phase design.
	Design *DesignSummary `json:"design,omitempty"`
	// Draws is, when the job imagined each seed in perturbed world-model
	// draws too, how many: the features behind these estimates then hold
	// the ensemble's means (ens_*) over 1+Draws rollouts per seed, and the
	// design's strata and allocation used them.
	Draws int `json:"draws,omitempty"`
}

// Calibration is what a job's real budget bought: the real episodes, each
// arm's estimates, and how well the imagined outcomes agreed with the real
// ones.
type Calibration struct {
	Event     string            `json:"event"`
	Real      []RealEpisodes    `json:"real"`
	Estimates []ArmEstimate     `json:"estimates"`
	Agreement *agreement.Report `json:"agreement,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
}

// ErrUnpaired: a real episode ran a seed the arm was not imagined on, or
// lacks what the scenario's event needs.
var ErrUnpaired = errors.New("job: real episode without an imagined twin")

// Calibrate pairs real episodes with the scenario's imagined ones and
// estimates each arm's rate of the scenario's event. For success, the
// imagined success and max reward are the features; for violations, the
// world model's safety features (the predicted violation first) and the
// critical variables that pick strata. The arm's imagined episodes on
// other seeds are the unlabelled sample.
//
// The real episodes must be a simple random sample of each arm's imagined
// seeds (its first ones, say); for episodes a two-phase design chose, use
// CalibrateDesigns.
func Calibrate(info ScenarioInfo, sc ScenarioResult, real []RealEpisodes) (Calibration, error) {
	event := cmp.Or(info.Event, EventSuccess)
	c := Calibration{Event: event, Real: real}
	var cmpArms []agreement.Arm
	for _, r := range real {
		p, err := pairArm(event, sc, r)
		if err != nil {
			return c, err
		}
		e := ArmEstimate{Arm: r.Arm, Event: event, RealBudget: len(p.paired), Imagined: len(p.imagined), Draws: info.Draws}
		if e.RealOnly, err = estimate.RealOnly(p.reals, estimate.Options{}); err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %v", r.Arm, err))
			continue
		}
		if e.ControlVariate, err = estimate.ControlVariate(p.paired, p.imagined, estimate.Options{}); err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: control variate: %v (real-only kept)", r.Arm, err))
			e.ControlVariate = e.RealOnly
		}
		if info.Strata != nil && event == EventViolation {
			w := stratumWeights(*info.Strata, p.critical)
			st, err := estimate.Stratified(info.Strata, w, p.paired, p.imagined, estimate.Options{})
			if err != nil {
				c.Notes = append(c.Notes, fmt.Sprintf("%s: stratified: %v", r.Arm, err))
			} else {
				e.Stratified = &st
			}
		}
		c.Estimates = append(c.Estimates, e)
		cmpArms = append(cmpArms, agreement.Arm{Name: r.Arm, Real: p.reals, Pred: p.preds})
	}
	if len(cmpArms) >= 2 {
		a, err := agreement.Compare(cmpArms, agreement.Options{Paired: true})
		switch {
		case err == nil:
			c.Agreement = &a
		case errors.Is(err, agreement.ErrDegenerate):
			c.Notes = append(c.Notes, "agreement: "+err.Error())
		default:
			return c, err
		}
	}
	return c, nil
}

// CalibrateDesigns is Calibrate for real episodes chosen by two-phase
// designs, one per arm, every round played and recorded. Each arm's
// estimates gain TwoPhase, on all of its real episodes, and Design; the
// result's Real holds every real episode, the rounds' merged.
//
// The real-only, control-variate and stratified estimates and the
// agreement use the first round's proportional share alone (Design):
// the later rounds put real episodes where the world model is least
// certain, so the real episodes as a whole over-represent some strata,
// and those estimators, which weight every real episode alike, would be
// biased with intervals that no longer cover. The share is a stratified
// sample in which every phase-one seed had the same chance to be: a
// self-weighting sample, so they stay unbiased, and since proportional
// stratification does not add variance to a simple random sample of the
// same size (it removes the between-strata part; up to terms of order
// 1/N), their intervals, which assume one, stay valid (if conservative). They are wider than before,
// on fewer real episodes; the two-phase estimate uses them all.
func CalibrateDesigns(info ScenarioInfo, sc ScenarioResult, designs []*Design) (Calibration, error) {
	share := make([]RealEpisodes, len(designs))
	for i, d := range designs {
		share[i] = d.ShareEpisodes()
	}
	c, err := Calibrate(info, sc, share)
	c.Real = nil
	for _, d := range designs {
		c.Real = append(c.Real, d.Real())
	}
	if err != nil {
		return c, err
	}
	for i := range c.Estimates {
		e := &c.Estimates[i]
		k := slices.IndexFunc(designs, func(d *Design) bool { return d.Arm == e.Arm })
		d := designs[k]
		e.RealBudget = len(d.real.Seeds)
		sum := d.Summary()
		e.Design = &sum
		tp, err := d.Estimate()
		if err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: two-phase: %v", d.Arm, err))
			continue
		}
		e.TwoPhase = &tp
	}
	return c, nil
}

// armPairs is one arm's real episodes lined up with its imagined ones.
type armPairs struct {
	paired       []estimate.Paired
	imagined     []estimate.Imagined
	reals, preds []float64
	critical     [][]float64 // of every imagined seed, for stratum weights
}

func pairArm(event string, sc ScenarioResult, r RealEpisodes) (armPairs, error) {
	var p armPairs
	im, ok := sc.Arm(r.Arm)
	if !ok {
		return p, fmt.Errorf("%w: arm %s was not imagined", ErrUnpaired, r.Arm)
	}
	safety := event == EventViolation
	if safety && (len(im.Features) != len(im.Seeds) || len(r.Violated) != len(r.Seeds)) {
		return p, fmt.Errorf("%w: arm %s: safety features or violations missing", ErrUnpaired, r.Arm)
	}
	features := func(i int) []float64 {
		if safety {
			return im.Features[i]
		}
		return []float64{b2f(im.Success[i]), im.MaxReward[i]}
	}
	critical := func(i int) []float64 {
		if safety {
			return im.Critical[i]
		}
		return nil
	}
	at := make(map[int64]int, len(im.Seeds))
	for i, s := range im.Seeds {
		at[s] = i
		p.critical = append(p.critical, critical(i))
	}
	used := map[int64]bool{}
	for k, s := range r.Seeds {
		i, ok := at[s]
		if !ok {
			return p, fmt.Errorf("%w: arm %s seed %d", ErrUnpaired, r.Arm, s)
		}
		used[s] = true
		y := b2f(r.Success[k])
		if safety {
			y = b2f(r.Violated[k])
		}
		f := features(i)
		p.paired = append(p.paired, estimate.Paired{Critical: critical(i), Real: y, Features: f})
		p.reals, p.preds = append(p.reals, y), append(p.preds, f[0])
	}
	for i, s := range im.Seeds {
		if !used[s] {
			p.imagined = append(p.imagined, estimate.Imagined{Critical: critical(i), Features: features(i)})
		}
	}
	return p, nil
}

// stratumWeights are the strata's shares of the arm's imagined initial
// conditions: drawn from the scenario's distribution, they estimate its
// stratum probabilities from critical variables alone.
func stratumWeights(g scenarios.Grid, critical [][]float64) []float64 {
	w := make([]float64, g.Len())
	for _, c := range critical {
		w[g.Stratum(c)]++
	}
	for h := range w {
		w[h] /= float64(max(1, len(critical)))
	}
	return w
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
