package imagine

import (
	"context"
	"fmt"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/progress"
	"dreamrank/policy"
	"dreamrank/worldmodel"
)

// runner holds what every round of one unit needs.
type runner struct {
	u    Unit
	p    policy.Policy
	m    worldmodel.Model
	j    judge.Judge
	spec worldmodel.Spec
	keep int
	rep  *Report
}

// loop runs rounds until every episode has stopped, restarting the rollout
// with only the running episodes whenever half of it has stopped.
func (r *runner) loop(ctx context.Context, eps []*episodeState, prog progress.Func) error {
	stopped := 0
	var (
		roll    worldmodel.Rollout
		members []*episodeState // the rollout's episodes, in order
	)
	defer func() {
		if roll != nil {
			roll.Close()
		}
	}()
	for stopped < len(eps) {
		if err := ctx.Err(); err != nil {
			return err
		}
		running := 0
		for _, e := range members {
			if !e.done {
				running++
			}
		}
		if roll == nil || 2*running <= len(members) {
			if roll != nil {
				roll.Close()
			}
			members = members[:0]
			var contexts [][]worldmodel.Observation
			for _, e := range eps {
				if !e.done {
					members = append(members, e)
					contexts = append(contexts, e.history)
				}
			}
			t := time.Now()
			var err error
			roll, err = r.m.Start(ctx, contexts)
			r.rep.ModelSeconds += time.Since(t).Seconds()
			if err != nil {
				return fmt.Errorf("imagine: start rollout of %d episodes: %w", len(contexts), err)
			}
		}
		n, err := r.round(ctx, roll, members)
		if err != nil {
			return err
		}
		stopped += n
		if prog != nil {
			prog(stopped, len(eps))
		}
	}
	return nil
}

// round asks the policy for the running members' chunks, steps the rollout
// (stopped members hold their last action) and judges the new frames. It
// returns how many episodes stopped.
func (r *runner) round(ctx context.Context, roll worldmodel.Rollout, members []*episodeState) (int, error) {
	var (
		active []int
		obs    []policy.Observation
		steer  []policy.Context
	)
	for i, e := range members {
		if e.done {
			continue
		}
		cur := e.current()
		active = append(active, i)
		obs = append(obs, policy.Observation{Image: cur.Frame, Proprio: cur.Proprio})
		if r.u.Steer != nil {
			steer = append(steer, *r.u.Steer)
		}
	}
	t := time.Now()
	chunks, err := r.p.Act(ctx, obs, steer)
	r.rep.ActSeconds += time.Since(t).Seconds()
	if err != nil {
		return 0, fmt.Errorf("imagine: act on %d observations: %w", len(obs), err)
	}
	if err := r.p.Spec().ValidateChunks(chunks, len(obs)); err != nil {
		return 0, fmt.Errorf("imagine: policy output: %w", err)
	}
	n := r.p.Spec().Executed(r.u.Execute, len(chunks[0].Actions))
	for _, k := range active {
		n = min(n, r.u.Horizon-members[k].out.Steps)
	}
	actions := make([][][]float32, len(members))
	for k, i := range active {
		actions[i] = chunks[k].Actions[:n]
		members[i].last = chunks[k].Actions[n-1]
	}
	for i, e := range members {
		if actions[i] == nil {
			hold := make([][]float32, n)
			for s := range hold {
				hold[s] = e.last
			}
			actions[i] = hold
		}
	}
	t = time.Now()
	pred, err := roll.Step(ctx, actions)
	r.rep.ModelSeconds += time.Since(t).Seconds()
	if err != nil {
		return 0, fmt.Errorf("imagine: world model step: %w", err)
	}
	r.rep.ImaginedSteps += n * len(members)
	for i, e := range members {
		for _, o := range pred[i] {
			e.push(o, r.keep)
		}
	}
	return r.judgeRound(ctx, members, active, pred)
}

// judgeRound judges the frames each running episode just imagined (one
// judge call for all of them) and stops episodes at success or the horizon.
func (r *runner) judgeRound(ctx context.Context, members []*episodeState, active []int, pred [][]worldmodel.Observation) (int, error) {
	eps := make([]judge.Episode, len(active))
	for k, i := range active {
		frames := make([][]uint8, len(pred[i]))
		prop := make([][]float32, len(pred[i]))
		for s, o := range pred[i] {
			frames[s], prop[s] = o.Frame, o.Proprio
		}
		eps[k] = judge.Episode{Frames: frames, Proprio: prop, FrameH: r.spec.FrameH, FrameW: r.spec.FrameW, Channels: r.spec.Channels}
		if r.u.Steer != nil {
			eps[k].Instruction = r.u.Steer.Task
		}
	}
	t := time.Now()
	verdicts, err := r.j.Judge(ctx, eps)
	r.rep.JudgeSeconds += time.Since(t).Seconds()
	if err != nil {
		return 0, fmt.Errorf("imagine: judge: %w", err)
	}
	if len(verdicts) != len(eps) {
		return 0, fmt.Errorf("imagine: judge returned %d verdicts for %d episodes", len(verdicts), len(eps))
	}
	stopped := 0
	for k, i := range active {
		e, v := members[i], verdicts[k]
		e.out.Unreadable += v.Unreadable
		e.out.MaxReward = max(e.out.MaxReward, v.MaxReward)
		for s := range eps[k].Frames {
			e.out.Steps++
			if r.u.KeepFrames {
				e.out.Frames = append(e.out.Frames, eps[k].Frames[s])
			}
			if r.u.KeepProprio {
				e.out.Proprio = append(e.out.Proprio, eps[k].Proprio[s])
			}
			if v.Success && s == v.SuccessStep {
				e.out.Success, e.out.StepsToSuccess = true, e.out.Steps
				break
			}
		}
		if e.out.Success || e.out.Steps >= r.u.Horizon {
			e.done = true
			stopped++
		}
	}
	return stopped, nil
}
