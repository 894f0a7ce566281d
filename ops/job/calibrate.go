package job

import (
	"errors"
	"fmt"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
)

// RealEpisodes are one arm's real episodes, on seeds it was also imagined
// on, in the order requested.
type RealEpisodes struct {
	Arm       string    `json:"arm"`
	Seeds     []int64   `json:"seeds"`
	Success   []bool    `json:"success"`
	MaxReward []float64 `json:"max_reward"`
	// Source says who played them ("fleet", "simulator").
	Source string `json:"source,omitempty"`
}

// ArmEstimate is an arm's success rate from its real episodes alone and
// from the control variate that adds every imagined episode (PPI++,
// evaluator/estimate), with the real budget used.
type ArmEstimate struct {
	Arm            string          `json:"arm"`
	Event          string          `json:"event"`
	RealBudget     int             `json:"real_budget"`
	Imagined       int             `json:"imagined"`
	RealOnly       estimate.Result `json:"real_only"`
	ControlVariate estimate.Result `json:"control_variate"`
}

// Calibration is what a job's real budget bought: the real episodes, each
// arm's control-variate estimate, and how well the imagined outcomes
// agreed with the real ones.
type Calibration struct {
	Real      []RealEpisodes    `json:"real"`
	Estimates []ArmEstimate     `json:"estimates"`
	Agreement *agreement.Report `json:"agreement,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
}

// ErrUnpaired: a real episode ran a seed the arm was not imagined on.
var ErrUnpaired = errors.New("job: real episode without an imagined twin")

// Calibrate pairs real episodes with the scenario's imagined ones and
// estimates each arm's success rate. The imagined prediction (success,
// then max reward) is the control variate; the arm's imagined episodes on
// other seeds are the unlabelled sample.
func Calibrate(sc ScenarioResult, real []RealEpisodes) (Calibration, error) {
	c := Calibration{Real: real}
	var cmp []agreement.Arm
	for _, r := range real {
		im, ok := sc.Arm(r.Arm)
		if !ok {
			return c, fmt.Errorf("%w: arm %s was not imagined", ErrUnpaired, r.Arm)
		}
		at := make(map[int64]int, len(im.Seeds))
		for i, s := range im.Seeds {
			at[s] = i
		}
		var paired []estimate.Paired
		var reals, preds []float64
		used := map[int64]bool{}
		for k, s := range r.Seeds {
			i, ok := at[s]
			if !ok {
				return c, fmt.Errorf("%w: arm %s seed %d", ErrUnpaired, r.Arm, s)
			}
			used[s] = true
			y, f := b2f(r.Success[k]), b2f(im.Success[i])
			paired = append(paired, estimate.Paired{Real: y, Features: []float64{f, im.MaxReward[i]}})
			reals, preds = append(reals, y), append(preds, f)
		}
		var imagined []estimate.Imagined
		for i, s := range im.Seeds {
			if !used[s] {
				imagined = append(imagined, estimate.Imagined{Features: []float64{b2f(im.Success[i]), im.MaxReward[i]}})
			}
		}
		e := ArmEstimate{Arm: r.Arm, Event: "success", RealBudget: len(paired), Imagined: len(imagined)}
		var err error
		if e.RealOnly, err = estimate.RealOnly(reals, estimate.Options{}); err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: %v", r.Arm, err))
			continue
		}
		if e.ControlVariate, err = estimate.ControlVariate(paired, imagined, estimate.Options{}); err != nil {
			c.Notes = append(c.Notes, fmt.Sprintf("%s: control variate: %v (real-only kept)", r.Arm, err))
			e.ControlVariate = e.RealOnly
		}
		c.Estimates = append(c.Estimates, e)
		cmp = append(cmp, agreement.Arm{Name: r.Arm, Real: reals, Pred: preds})
	}
	if len(cmp) >= 2 {
		a, err := agreement.Compare(cmp, agreement.Options{Paired: true})
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

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
