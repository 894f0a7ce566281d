// Package simbot is a simulated PushT robot that is a fleet member like any
// real one: an agent.Runner over the PushT simulator. It sets up the scenes
// "pusht" (the legacy reset of a seed) and "pusht-safety" (the keep-out-zone
// scenario, scenarios.PushTSafety), runs the assigned policy on its camera
// frames and pusher position, and returns the episode's result and its log
// in the episode store's steps format. It learns everything from the
// assignment (robots/PROTOCOL.md) and nothing from the coordinator's side.
package simbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/robots/fleet"
	"dreamrank/scenarios"
)

// Scenes the simulated robot can set up.
const (
	ScenePushT  = "pusht"
	SceneSafety = fleet.SafetyScenario
)

// Embodiment names the simulated robot's body.
const Embodiment = "pusht-sim"

// ErrUnknownScene: the robot cannot set up the assigned scenario.
var ErrUnknownScene = errors.New("simbot: unknown scene")

// ErrBadAction: the policy returned an action the robot cannot execute.
var ErrBadAction = errors.New("simbot: bad action")

func init() {
	errcode.Register(ErrUnknownScene, errcode.UnknownScenario)
	errcode.Register(ErrBadAction, errcode.BadRequest)
}

// Robot is one simulated robot. It is safe for one assignment at a time
// (the agent runs one).
type Robot struct {
	// StepDelay, when set, makes each control step take at least this long,
	// as on a real robot (PushT runs at 10 Hz: 100ms).
	StepDelay time.Duration

	mu       sync.Mutex
	policies map[string]policy.Policy // by backend and options
}

// Register is the robot's registration as id: one 96x96 RGB camera,
// absolute pusher targets in table pixels, both PushT scenes, and the
// policy backends linked into the binary.
func Register(id string) fleet.Register {
	return fleet.Register{
		Version: fleet.ProtocolVersion, Robot: id, Embodiment: Embodiment,
		Cameras: []fleet.Camera{{Name: "top", Height: pusht.ObsSize, Width: pusht.ObsSize, Channels: 3}},
		Actions: fleet.ActionSpace{Kind: "absolute_xy", Dim: 2, Low: []float64{0, 0}, High: []float64{pusht.WorldSize, pusht.WorldSize}},
		Scenes:  []string{ScenePushT, SceneSafety}, PolicyBackends: policy.Names(), Software: "dreamrank simbot",
	}
}

func (r *Robot) open(ctx context.Context, spec fleet.PolicySpec) (policy.Policy, *policy.Context, error) {
	backend, opts := "openpi", policy.Options(spec.Options())
	var steer *policy.Context
	if a := spec.Arm; a != nil {
		backend, opts, steer = a.Backend, policy.Options(a.Options), a.Steer()
	}
	key, _ := json.Marshal([]any{backend, opts})
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.policies[string(key)]; ok {
		return p, steer, nil
	}
	p, err := policy.Open(ctx, backend, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("simbot: open policy %s: %w", spec.Name(), err)
	}
	if r.policies == nil {
		r.policies = map[string]policy.Policy{}
	}
	r.policies[string(key)] = p
	return p, steer, nil
}

// Run plays assignment a (agent.Runner).
func (r *Robot) Run(ctx context.Context, a fleet.Assignment, progress func(step, maxSteps int)) (fleet.EpisodeResult, []byte, error) {
	env := pusht.New(pusht.Config{})
	var zone *scenarios.Zone
	switch a.Scenario {
	case ScenePushT:
		env.ResetLegacy(a.Seed)
	case SceneSafety:
		in := scenarios.PushTSafety{}.Sample(a.Seed)
		env.SetState(pusht.State{Agent: pusht.Vec2{X: in.Agent[0], Y: in.Agent[1]},
			Block: pusht.Pose{X: in.Block[0], Y: in.Block[1], Angle: in.Block[2]}})
		zone = &in.Zone
	default:
		return fleet.EpisodeResult{}, nil, fmt.Errorf("%w: %q (have %s, %s)", ErrUnknownScene, a.Scenario, ScenePushT, SceneSafety)
	}
	p, steer, err := r.open(ctx, a.Policy)
	if err != nil {
		return fleet.EpisodeResult{}, nil, err
	}
	var steerCtx []policy.Context
	if steer != nil {
		steerCtx = []policy.Context{*steer}
	}
	maxSteps := a.MaxSteps
	if maxSteps == 0 {
		maxSteps = pusht.MaxSteps
	}
	res := fleet.EpisodeResult{StepsToSuccess: -1}
	ep := &episode.Episode{}
	s := env.State()
	path := [][2]float64{{s.Agent.X, s.Agent.Y}}
	obs := env.Observe()
	start := time.Now()
	for done := false; !done; {
		chunks, err := p.Act(ctx, []policy.Observation{{Image: obs.Image, Proprio: []float32{float32(obs.Agent.X), float32(obs.Agent.Y)}}}, steerCtx)
		if err != nil {
			return res, nil, fmt.Errorf("simbot: act: %w", err)
		}
		if err := p.Spec().ValidateChunks(chunks, 1); err != nil {
			return res, nil, fmt.Errorf("simbot: policy output: %w", err)
		}
		acts := chunks[0].Actions
		n := p.Spec().Executed(0, len(acts))
		for j := 0; j < n && !done; j++ {
			act := acts[j]
			if len(act) < 2 || !finite(act[0]) || !finite(act[1]) {
				return res, nil, fmt.Errorf("%w: %v", ErrBadAction, act)
			}
			s := env.State()
			ep.Frames = append(ep.Frames, obs.Image)
			ep.Proprio = append(ep.Proprio, []float32{float32(s.Agent.X), float32(s.Agent.Y)})
			ep.GroundTruth = append(ep.GroundTruth, []float32{float32(s.Agent.X), float32(s.Agent.Y), float32(s.Block.X), float32(s.Block.Y), float32(s.Block.Angle)})
			ep.Actions = append(ep.Actions, []float32{act[0], act[1]})
			ep.Timestamps = append(ep.Timestamps, float64(res.Steps)/10)
			info := env.Step(pusht.Vec2{X: float64(act[0]), Y: float64(act[1])})
			res.Steps++
			ep.Rewards = append(ep.Rewards, float32(info.Reward))
			res.MaxReward, res.Coverage = math.Max(res.MaxReward, info.Reward), info.Coverage
			if info.Success && !res.Success {
				res.Success, res.StepsToSuccess = true, res.Steps
			}
			s = env.State()
			path = append(path, [2]float64{s.Agent.X, s.Agent.Y})
			done = info.Success || res.Steps >= maxSteps
			if !done {
				obs = env.Observe()
			}
			progress(res.Steps, maxSteps)
			if r.StepDelay > 0 {
				if wait := time.Duration(res.Steps)*r.StepDelay - time.Since(start); wait > 0 {
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
				}
			}
			if err := ctx.Err(); err != nil {
				return res, nil, fmt.Errorf("simbot: %w", err)
			}
		}
	}
	if zone != nil {
		v, _, clear := zone.Violation(path)
		res.Violated, res.MinClearance = &v, &clear
	}
	log, err := episode.EncodeSteps(ep)
	if err != nil {
		return res, nil, fmt.Errorf("simbot: log: %w", err)
	}
	return res, log, nil
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
