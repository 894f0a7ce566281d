package judge

import (
	"context"
	"fmt"

	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
)

// simScene is how a simulated scene's episodes are drawn and scored, to
// measure judges against the truth.
type simScene struct {
	newEnv   func() expert.Sim
	render   func(agent pusht.Vec2, block pusht.Pose, size int) ([]uint8, error)
	coverage func(block pusht.Pose) float64
}

var simScenes = map[string]simScene{
	"pusht": {func() expert.Sim { return pusht.New(pusht.Config{}) }, pusht.RenderState, pusht.Coverage},
	"pushl": {func() expert.Sim { return pushl.New(pusht.Config{}) }, pushl.RenderState, pushl.Coverage},
}

// Simulated plays the scripted expert on seeds first, first+1, ...
// (episode i with opts[i%len(opts)], in the scene it names, PushT by
// default; mixing low qualities in makes some episodes fail) and returns
// each episode's camera frames of every state, the final one included, with
// the true coverage of each state. Stored episodes pair each frame with the
// action taken on it and so end one state before success; these show the
// success itself, which is what a success call must see.
func Simulated(ctx context.Context, first int64, n int, opts []expert.Options) ([]Episode, [][]float64, error) {
	if len(opts) == 0 {
		opts = []expert.Options{{}}
	}
	envs := map[string]expert.Sim{}
	var eps []Episode
	var truth [][]float64
	for i := range n {
		seed, o := first+int64(i), opts[i%len(opts)]
		name := o.Scene
		if name == "" {
			name = expert.DefaultScene
		}
		sc, ok := simScenes[name]
		if !ok {
			return nil, nil, fmt.Errorf("%w: no simulated scene %q", ErrBadInput, name)
		}
		if envs[name] == nil {
			envs[name] = sc.newEnv()
		}
		res, err := expert.Run(ctx, envs[name], seed, o)
		if err != nil {
			return nil, nil, fmt.Errorf("judge: simulate seed %d: %w", seed, err)
		}
		ep := Episode{FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3}
		cov := make([]float64, 0, len(res.States))
		for _, s := range res.States {
			f, err := sc.render(s.Agent, s.Block, pusht.ObsSize)
			if err != nil {
				return nil, nil, fmt.Errorf("judge: simulate seed %d: %w", seed, err)
			}
			ep.Frames = append(ep.Frames, f)
			ep.Proprio = append(ep.Proprio, []float32{float32(s.Agent.X), float32(s.Agent.Y)})
			cov = append(cov, sc.coverage(s.Block))
		}
		eps, truth = append(eps, ep), append(truth, cov)
	}
	return eps, truth, nil
}

// EvaluateSimulated measures j on n freshly simulated expert episodes (see
// Simulated), judged in batches of batch.
func EvaluateSimulated(ctx context.Context, j Judge, first int64, n int, opts []expert.Options, batch int) (Report, error) {
	eps, truth, err := Simulated(ctx, first, n, opts)
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
	// Both scenes succeed above the same coverage.
	return Compare(verdicts, truth, pusht.SuccessCoverage)
}
