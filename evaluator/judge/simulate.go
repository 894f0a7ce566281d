package judge

import (
	"context"
	"fmt"

	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
)

// SimulatedPushT plays the scripted expert on seeds first, first+1, ...
// (episode i with opts[i%len(opts)], so mixing low qualities in makes some
// episodes fail) and returns
// each episode's camera frames of every state, the final one included, with
// the true coverage of each state. Stored episodes pair each frame with the
// action taken on it and so end one state before success; these show the
// success itself, which is what a success call must see.
func SimulatedPushT(ctx context.Context, first int64, n int, opts []expert.Options) ([]Episode, [][]float64, error) {
	if len(opts) == 0 {
		opts = []expert.Options{{}}
	}
	env := pusht.New(pusht.Config{})
	var eps []Episode
	var truth [][]float64
	for i := range n {
		seed := first + int64(i)
		res, err := expert.Run(ctx, env, seed, opts[i%len(opts)])
		if err != nil {
			return nil, nil, fmt.Errorf("judge: simulate seed %d: %w", seed, err)
		}
		ep := Episode{FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3}
		cov := make([]float64, 0, len(res.States))
		for _, s := range res.States {
			f, err := pusht.RenderState(s.Agent, s.Block, pusht.ObsSize)
			if err != nil {
				return nil, nil, fmt.Errorf("judge: simulate seed %d: %w", seed, err)
			}
			ep.Frames = append(ep.Frames, f)
			ep.Proprio = append(ep.Proprio, []float32{float32(s.Agent.X), float32(s.Agent.Y)})
			cov = append(cov, pusht.Coverage(s.Block))
		}
		eps, truth = append(eps, ep), append(truth, cov)
	}
	return eps, truth, nil
}

// EvaluateSimulated measures j on n freshly simulated PushT expert episodes
// (see SimulatedPushT), judged in batches of batch.
func EvaluateSimulated(ctx context.Context, j Judge, first int64, n int, opts []expert.Options, batch int) (Report, error) {
	eps, truth, err := SimulatedPushT(ctx, first, n, opts)
	if err != nil {
		return Report{}, err
	}
	batch = max(batch, 1)
	var verdicts []Verdict
	for lo := 0; lo < len(eps); lo += batch {
		vs, err := j.Judge(ctx, eps[lo:min(lo+batch, len(eps))])
		if err != nil {
			return Report{}, err
		}
		verdicts = append(verdicts, vs...)
	}
	return Compare(verdicts, truth, pusht.SuccessCoverage)
}
