// Package copylast is the baseline world model every learned model must
// beat: it predicts that nothing changes, repeating the last observed frame
// and proprioception forever.
package copylast

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"dreamrank/worldmodel"
)

// Name is the backend name.
const Name = "copylast"

func init() {
	worldmodel.Register(Name, func(_ context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
		spec := PushTSpec()
		for key, dst := range map[string]*int{"frame_h": &spec.FrameH, "frame_w": &spec.FrameW, "proprio_dim": &spec.ProprioDim, "action_dim": &spec.ActionDim} {
			if v, ok := opts[key]; ok {
				n, err := strconv.Atoi(v)
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("copylast: option %s=%q: want a positive integer", key, v)
				}
				*dst = n
			}
		}
		return New(spec), nil
	})
}

// PushTSpec is the PushT camera and proprioception layout.
func PushTSpec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: 1, ControlHz: 10}
}

// Model is the copy-last-frame baseline.
type Model struct{ spec worldmodel.Spec }

// New returns the baseline for observations of this spec.
func New(spec worldmodel.Spec) *Model { return &Model{spec: spec} }

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec { return m.spec }

// Describe implements worldmodel.Describer.
func (m *Model) Describe() map[string]string { return map[string]string{"backend": Name} }

// Start implements worldmodel.Model.
func (m *Model) Start(_ context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := m.spec.ValidateContexts(contexts); err != nil {
		return nil, err
	}
	last := make([]worldmodel.Observation, len(contexts))
	for i, c := range contexts {
		o := c[len(c)-1]
		last[i] = worldmodel.Observation{Frame: slices.Clone(o.Frame), Proprio: slices.Clone(o.Proprio)}
	}
	return &rollout{spec: m.spec, last: last}, nil
}

type rollout struct {
	spec   worldmodel.Spec
	last   []worldmodel.Observation
	closed bool
}

func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	chunk, err := r.spec.ValidateActions(actions, len(r.last))
	if err != nil {
		return nil, err
	}
	out := make([][]worldmodel.Observation, len(r.last))
	for i, o := range r.last {
		out[i] = make([]worldmodel.Observation, chunk)
		for k := range out[i] {
			// Copies, so callers may modify what they get.
			out[i][k] = worldmodel.Observation{Frame: slices.Clone(o.Frame), Proprio: slices.Clone(o.Proprio)}
		}
	}
	return out, nil
}

func (r *rollout) Close() error {
	r.closed = true
	return nil
}
