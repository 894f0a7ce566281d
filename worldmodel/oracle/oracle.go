// Package oracle is the PushT simulator used as a world model: it reads the
// block from the last context frame with the PushT pose reader and the
// pusher from proprioception, then steps the true physics and draws with
// the true renderer. Its only error is perception, so it is the ceiling of
// any world model that starts from camera frames: the ranking benchmark run
// with it measures how much of a learned model's disagreement with the
// simulator no model could remove (closed-loop episodes that diverge from
// a sub-pixel difference in the first reading).
//
// It is a reference, not a product backend: it knows PushT and needs no
// training.
package oracle

import (
	"context"
	"math"
	"sync"

	"dreamrank/foundation/fanout"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
)

// controlHz is the reference PushT control rate (tabletop.Config default).
const controlHz = 10

// Name is the backend name.
const Name = "oracle"

func init() {
	worldmodel.Register(Name, func(_ context.Context, _ worldmodel.Options) (worldmodel.Model, error) {
		return Model{}, nil
	})
}

// Model is the simulator behind the world-model interface.
type Model struct{}

// Spec implements worldmodel.Model: PushT's camera and pusher; two context
// observations give the pusher's velocity.
func (Model) Spec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: 2, ControlHz: controlHz}
}

// Describe implements worldmodel.Describer.
func (Model) Describe() map[string]string {
	return map[string]string{"backend": Name, "dynamics": "the PushT simulator", "renderer": "pusht renderer",
		"state": "block read from the last context frame (pusht pose reader), pusher from proprioception"}
}

// Start implements worldmodel.Model.
func (m Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := m.Spec().ValidateContexts(contexts); err != nil {
		return nil, err
	}
	r := &rollout{envs: make([]*pusht.Env, len(contexts))}
	for i, c := range contexts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.envs[i] = pusht.New(pusht.Config{})
		r.envs[i].SetState(perceive(c))
	}
	return r, nil
}

// perceive is the state a context shows. An unreadable block stays where
// the reference layout puts it before a reset.
func perceive(c []worldmodel.Observation) pusht.State {
	last := c[len(c)-1]
	s := pusht.State{Agent: pusht.Vec2{X: float64(last.Proprio[0]), Y: float64(last.Proprio[1])},
		Block: pusht.Pose{X: 256, Y: 300}}
	if len(c) > 1 {
		prev := c[len(c)-2].Proprio
		s.AgentVel = pusht.Vec2{X: (s.Agent.X - float64(prev[0])) * controlHz, Y: (s.Agent.Y - float64(prev[1])) * controlHz}
	}
	if b, _, ok, _ := pusht.ReadPoses(last.Frame, pusht.ObsSize); ok && !math.IsNaN(b.X) {
		s.Block = b
	}
	return s
}

type rollout struct {
	mu     sync.Mutex
	envs   []*pusht.Env
	closed bool
}

// Step implements worldmodel.Rollout.
func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if _, err := (Model{}).Spec().ValidateActions(actions, len(r.envs)); err != nil {
		return nil, err
	}
	out := make([][]worldmodel.Observation, len(r.envs))
	// Episodes are independent: step them on every core (rendering each
	// frame dominates).
	err := fanout.Each(ctx, len(r.envs), func(i int) error {
		for _, a := range actions[i] {
			r.envs[i].Step(pusht.Vec2{X: float64(a[0]), Y: float64(a[1])})
			o := r.envs[i].Observe()
			out[i] = append(out[i], worldmodel.Observation{Frame: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close implements worldmodel.Rollout.
func (r *rollout) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}
