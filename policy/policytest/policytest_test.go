package policytest

import (
	"context"
	"sync/atomic"
	"testing"

	"dreamrank/policy"
)

var spec = policy.Spec{FrameH: 2, FrameW: 2, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 3}

// fake keeps the contract unless told to break one promise.
type fake struct {
	stateful, batchDependent, trusting, deaf, emptyFails, ragged bool
	calls                                                        atomic.Int64
}

func (f *fake) Spec() policy.Spec { return spec }

func (f *fake) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	n := f.calls.Add(1)
	if err := ctx.Err(); err != nil && !f.deaf {
		return nil, err
	}
	if err := spec.ValidateInput(obs, steer); err != nil && !f.trusting {
		return nil, err
	}
	if len(obs) == 0 && f.emptyFails {
		return nil, policy.ErrBadInput
	}
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		v := o.Proprio[0] + float32(o.Image[0])
		switch {
		case f.stateful:
			v += float32(n)
		case f.batchDependent:
			v += float32(len(obs)) / 100
		}
		out[i].Actions = [][]float32{{v, 1}, {v, 2}, {v, 3}}
		if f.ragged && i == 1 {
			out[i].Actions = out[i].Actions[:2]
		}
	}
	return out, nil
}

func TestChecksCatchBrokenPromises(t *testing.T) {
	obs := make([]policy.Observation, 3)
	for i := range obs {
		obs[i] = policy.Observation{Image: make([]uint8, spec.FrameLen()), Proprio: []float32{float32(i), 0}}
		obs[i].Image[0] = uint8(10 * i)
	}
	broken := map[string]*fake{
		"shapes":                 {ragged: true},
		"no state between calls": {stateful: true},
		"batch independent":      {batchDependent: true},
		"bad input":              {trusting: true},
		"empty batch":            {emptyFails: true},
		"cancelled":              {deaf: true},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			kept, bad := c.check(&fake{}, obs), error(nil)
			if f := broken[c.name]; f != nil {
				bad = c.check(f, obs)
			}
			if kept != nil || (broken[c.name] != nil && bad == nil) {
				t.Errorf("keeping the promise: %v; breaking it: %v (want an error)", kept, bad)
			}
		})
	}
}

func TestNear(t *testing.T) {
	a := []policy.Chunk{{Actions: [][]float32{{100, 0}}}}
	for _, tt := range []struct {
		name string
		b    []policy.Chunk
		ok   bool
	}{
		{"same", []policy.Chunk{{Actions: [][]float32{{100, 0}}}}, true},
		{"within the tolerance", []policy.Chunk{{Actions: [][]float32{{100.0005, 0.0005}}}}, true},
		{"beyond it", []policy.Chunk{{Actions: [][]float32{{100.02, 0}}}}, false},
		{"another shape", []policy.Chunk{{Actions: [][]float32{{100, 0}, {1, 1}}}}, false},
	} {
		if err := Near(tt.b, a, AbsTolerance, RelTolerance); (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
