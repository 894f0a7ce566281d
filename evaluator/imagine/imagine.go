package imagine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/progress"
	"dreamrank/policy"
	"dreamrank/policy/trial"
	"dreamrank/worldmodel"
)

// ErrMismatch: a policy, world model and judge that do not fit together
// (frame sizes, proprio or action dimensions).
var ErrMismatch = errors.New("imagine: policy and world model do not fit")

// Starter gives the real first observation of each seed's scenario.
type Starter func(ctx context.Context, seed int64) (worldmodel.Observation, error)

// Unit is one arm over a batch of seeds.
type Unit struct {
	// Arm names the policy and steering context, for reports.
	Arm   string
	Seeds []int64
	// Steer is given with every observation; nil means no steering.
	Steer *policy.Context
	// Horizon caps each episode's steps (PushT: 300).
	Horizon int
	// Execute is how many actions of each chunk run before the policy is
	// asked again; 0 means the policy's preference (policy.Spec.Execute),
	// else half the chunk (at least one).
	Execute int
	// KeepFrames keeps every imagined frame in the outcomes (for videos).
	KeepFrames bool
	// KeepProprio keeps every imagined proprioception in the outcomes (for
	// PushT the predicted pusher positions, e.g. for safety checks).
	KeepProprio bool
}

// Outcome is one imagined episode, judged.
type Outcome struct {
	trial.Result
	// Unreadable counts imagined frames the judge could not read.
	Unreadable int `json:"unreadable"`
	// Frames are the imagined frames (the first real one first) when the
	// unit keeps them.
	Frames [][]uint8 `json:"-"`
	// Proprio is the imagined proprioception (the first real one first)
	// when the unit keeps it.
	Proprio [][]float32 `json:"-"`
}

// Report is a unit's outcomes and what they cost.
type Report struct {
	Arm      string        `json:"arm"`
	Summary  trial.Summary `json:"summary"`
	Outcomes []Outcome     `json:"outcomes"`
	// Seconds spent in the policy, the world model and the judge.
	ActSeconds   float64 `json:"act_seconds"`
	ModelSeconds float64 `json:"model_seconds"`
	JudgeSeconds float64 `json:"judge_seconds"`
	WallSeconds  float64 `json:"wall_seconds"`
	// ImaginedSteps counts world-model steps, including those of episodes
	// that had stopped but shared a rollout with running ones.
	ImaginedSteps int `json:"imagined_steps"`
}

// episodeState is one episode in progress.
type episodeState struct {
	out     Outcome
	history []worldmodel.Observation // the latest ContextLen observations
	last    []float32                // last action, held while stopped
	done    bool
}

func (e *episodeState) current() worldmodel.Observation { return e.history[len(e.history)-1] }

func (e *episodeState) push(o worldmodel.Observation, keep int) {
	e.history = append(e.history, o)
	if len(e.history) > keep {
		e.history = e.history[len(e.history)-keep:]
	}
}

// Run imagines every seed of u with policy p in world model m, judged by j.
func Run(ctx context.Context, u Unit, p policy.Policy, m worldmodel.Model, j judge.Judge, start Starter, prog progress.Func) (Report, error) {
	t0 := time.Now()
	rep := Report{Arm: u.Arm}
	ms, ps := m.Spec(), p.Spec()
	if err := fits(ps, ms); err != nil {
		return rep, err
	}
	if u.Horizon <= 0 || len(u.Seeds) == 0 {
		return rep, fmt.Errorf("imagine: unit %q: horizon %d, %d seeds", u.Arm, u.Horizon, len(u.Seeds))
	}
	keep := max(1, ms.ContextLen)
	eps := make([]*episodeState, len(u.Seeds))
	for i, s := range u.Seeds {
		first, err := start(ctx, s)
		if err != nil {
			return rep, fmt.Errorf("imagine: first observation of seed %d: %w", s, err)
		}
		e := &episodeState{out: Outcome{Result: trial.Result{Seed: s, StepsToSuccess: -1}}}
		e.push(first, keep)
		if u.KeepFrames {
			e.out.Frames = append(e.out.Frames, first.Frame)
		}
		if u.KeepProprio {
			e.out.Proprio = append(e.out.Proprio, first.Proprio)
		}
		eps[i] = e
	}
	r := &runner{u: u, p: p, m: m, j: j, spec: ms, keep: keep, rep: &rep}
	if err := r.loop(ctx, eps, prog); err != nil {
		return rep, err
	}
	results := make([]trial.Result, len(eps))
	for i, e := range eps {
		rep.Outcomes = append(rep.Outcomes, e.out)
		results[i] = e.out.Result
	}
	rep.Summary = trial.Summarize(results)
	rep.WallSeconds = time.Since(t0).Seconds()
	rep.Summary.WallSeconds = rep.WallSeconds
	return rep, nil
}

// fits checks that the policy can read the model's observations.
func fits(ps policy.Spec, ms worldmodel.Spec) error {
	switch {
	case ps.FrameLen() > 0 && (ps.FrameH != ms.FrameH || ps.FrameW != ms.FrameW || ps.Channels != ms.Channels):
		return fmt.Errorf("%w: policy frames %dx%dx%d, model frames %dx%dx%d", ErrMismatch, ps.FrameH, ps.FrameW, ps.Channels, ms.FrameH, ms.FrameW, ms.Channels)
	case ps.ProprioDim > 0 && ps.ProprioDim != ms.ProprioDim:
		return fmt.Errorf("%w: policy proprio %d, model proprio %d", ErrMismatch, ps.ProprioDim, ms.ProprioDim)
	case ps.ActionDim > 0 && ps.ActionDim != ms.ActionDim:
		return fmt.Errorf("%w: policy actions %d, model actions %d", ErrMismatch, ps.ActionDim, ms.ActionDim)
	}
	return nil
}
