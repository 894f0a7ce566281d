// Package standin is the PushT simulator standing in for the robot fleet:
// it plays requested real episodes directly, and renders a seed imagined
// beside its simulator episode for report previews. Servers use it when no
// robots are connected; the fleet (robots/fleet) plays the same requests
// through real robot agents.
package standin

import (
	"context"
	"fmt"
	"image"
	"os"
	"sync"

	"dreamrank/evaluator/imagine"
	"dreamrank/evaluator/judge"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/ops/job"
	"dreamrank/ops/report"
	"dreamrank/policy"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
)

// Simulator plays real episodes in the PushT simulator.
type Simulator struct{}

func openArm(ctx context.Context, arm zoo.Arm) (policy.Policy, func(), error) {
	p, err := policy.Open(ctx, arm.Backend, policy.Options(arm.Options))
	if err != nil {
		return nil, nil, fmt.Errorf("standin: open %s: %w", arm.Name, err)
	}
	return p, func() {
		if c, ok := p.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}, nil
}

// Play plays arm on seeds of the scenario (server.Real): "pusht" from the
// legacy reset of each seed, "pusht-safety" from the keep-out-zone initial
// condition of each seed, with the violation read from the pusher's path.
// It keeps no state: each seed's episode depends only on the seed and (for
// a deterministic policy) the arm, so asking again after a restart, or in
// another round, plays the same episodes.
func (Simulator) Play(ctx context.Context, _, scenario string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	cfg := trial.Config{Seeds: seeds, Steer: arm.Steer(), Workers: 1}
	safety := scenario == scenarios.PushTSafetyName
	paths := map[int64][][2]float64{}
	switch {
	case safety:
		cfg.Start = func(env *pusht.Env, seed int64) {
			in := scenarios.PushTSafety{}.Sample(seed)
			env.SetState(pusht.State{Agent: pusht.Vec2{X: in.Agent[0], Y: in.Agent[1]},
				Block: pusht.Pose{X: in.Block[0], Y: in.Block[1], Angle: in.Block[2]}})
		}
		var mu sync.Mutex
		cfg.Path = func(seed int64, p [][2]float64) {
			mu.Lock()
			defer mu.Unlock()
			paths[seed] = p
		}
	case scenario != "pusht":
		return job.RealEpisodes{}, fmt.Errorf("%w: the stand-in simulator plays pusht and %s, not %q",
			job.ErrUnknownScenario, scenarios.PushTSafetyName, scenario)
	}
	p, done, err := openArm(ctx, arm)
	if err != nil {
		return job.RealEpisodes{}, err
	}
	defer done()
	sum, err := trial.Run(ctx, p, cfg)
	if err != nil {
		return job.RealEpisodes{}, err
	}
	r := job.RealEpisodes{Arm: arm.Name, Source: "simulator"}
	for _, e := range sum.Results {
		r.Seeds, r.Success, r.MaxReward = append(r.Seeds, e.Seed), append(r.Success, e.Success), append(r.MaxReward, e.MaxReward)
		if safety {
			v, _, _ := scenarios.PushTSafety{}.Sample(e.Seed).Zone.Violation(paths[e.Seed])
			r.Violated = append(r.Violated, v)
		}
	}
	return r, nil
}

// Preview renders one seed imagined in the model and in the simulator
// (nightly.Previewer).
func (Simulator) Preview(ctx context.Context, arm zoo.Arm, ref job.ModelRef, seed int64) ([]image.Image, []image.Image, bool, error) {
	p, done, err := openArm(ctx, arm)
	if err != nil {
		return nil, nil, false, err
	}
	defer done()
	m, err := worldmodel.Open(ctx, ref.Backend, worldmodel.Options(ref.Options))
	if err != nil {
		return nil, nil, false, err
	}
	if c, ok := m.(interface{ Close() error }); ok {
		defer c.Close()
	}
	j, err := judge.Open(ctx, judge.PushTName, nil)
	if err != nil {
		return nil, nil, false, err
	}
	img, err := imagine.Run(ctx, imagine.Unit{Arm: arm.Name, Seeds: []int64{seed}, Steer: arm.Steer(),
		Horizon: pusht.MaxSteps, KeepFrames: true}, p, m, j, imagine.PushTStart, nil)
	if err != nil {
		return nil, nil, false, err
	}
	spec := m.Spec()
	imagined := report.RGBFrames(img.Outcomes[0].Frames, spec.FrameW, spec.FrameH)
	dir, err := os.MkdirTemp("", "dreamrank-preview-")
	if err != nil {
		return nil, nil, false, err
	}
	defer os.RemoveAll(dir)
	store, err := episode.Open(dir)
	if err != nil {
		return nil, nil, false, err
	}
	sum, err := trial.Run(ctx, p, trial.Config{Seeds: []int64{seed}, Steer: arm.Steer(), Workers: 1,
		Record: &trial.Recording{Store: store, Policy: arm.Name}})
	if err != nil {
		return nil, nil, false, err
	}
	r := sum.Results[0]
	ep, err := store.Get(ctx, r.EpisodeID)
	if err != nil {
		return nil, nil, false, err
	}
	return imagined, report.RGBFrames(ep.Frames, spec.FrameW, spec.FrameH), r.Success, nil
}

// Describe opens the world model to read its checkpoint description.
func Describe(ctx context.Context, ref job.ModelRef) report.WorldModel {
	wm := report.WorldModel{Checkpoint: map[string]string{"backend": ref.Backend}}
	for k, v := range ref.Options {
		wm.Checkpoint[k] = v
	}
	m, err := worldmodel.Open(ctx, ref.Backend, worldmodel.Options(ref.Options))
	if err != nil {
		wm.Checkpoint["error"] = err.Error()
		return wm
	}
	if c, ok := m.(interface{ Close() error }); ok {
		defer c.Close()
	}
	if d, ok := m.(worldmodel.Describer); ok {
		for k, v := range d.Describe() {
			wm.Checkpoint[k] = v
		}
	}
	return wm
}
