// Package policytest checks that a policy.Policy keeps the interface's
// promises, so every backend (built-in, over NATS, over openpi) is tested
// alike.
package policytest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
)

// Tolerance bounds how far a chunk computed in one batch may be from the
// same chunk computed in another (BLAS sums in another order): absolute,
// in action units (PushT: table pixels), plus relative.
const (
	AbsTolerance = 1e-3
	RelTolerance = 1e-4
)

// PushT returns what the robot reports after n PushT resets (seeds 100000
// on): the camera frame and the pusher's position.
func PushT(n int) []policy.Observation {
	obs := make([]policy.Observation, n)
	for i := range obs {
		env := pusht.New(pusht.Config{})
		env.ResetLegacy(100000 + int64(i))
		o := env.Observe()
		obs[i] = policy.Observation{Image: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}
	}
	return obs
}

// Contract runs the interface checks on p with obs, at least three
// observations that fit p's spec: shapes, steering, no state between
// calls, batch independence, bad input, the empty batch and cancellation
// (last, as some clients close their connection on a cancelled call).
func Contract(t *testing.T, p policy.Policy, obs []policy.Observation) {
	t.Helper()
	if len(obs) < 3 {
		t.Fatalf("the contract needs at least 3 observations, got %d", len(obs))
	}
	if err := p.Spec().ValidateInput(obs, nil); err != nil {
		t.Fatalf("the contract's observations do not fit the spec %+v: %v", p.Spec(), err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(p, obs); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checks are the contract's, in order; each says what it found wrong.
var checks = []struct {
	name  string
	check func(policy.Policy, []policy.Observation) error
}{
	{"shapes", shapes},
	{"steering", func(p policy.Policy, obs []policy.Observation) error {
		_, err := act(p, obs, Steering(obs))
		return err
	}},
	{"no state between calls", stateless},
	{"batch independent", batchIndependent},
	{"bad input", badInput},
	{"empty batch", func(p policy.Policy, _ []policy.Observation) error {
		if out, err := p.Act(context.Background(), nil, nil); err != nil || len(out) != 0 {
			return fmt.Errorf("Act of no observations: %d chunks, %v; want none and no error", len(out), err)
		}
		return nil
	}},
	{"cancelled", func(p policy.Policy, obs []policy.Observation) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Act(ctx, obs, nil); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Act with a cancelled ctx: %v, want an error wrapping context.Canceled", err)
		}
		return nil
	}},
}

func shapes(p policy.Policy, obs []policy.Observation) error {
	out, err := act(p, obs, nil)
	if err != nil {
		return err
	}
	for i, c := range out {
		if len(c.Actions) != len(out[0].Actions) || len(c.Actions[0]) != len(out[0].Actions[0]) {
			return fmt.Errorf("chunk %d is %dx%d, chunk 0 %dx%d", i, len(c.Actions), len(c.Actions[0]), len(out[0].Actions), len(out[0].Actions[0]))
		}
	}
	return nil
}

// stateless: the same call after another gives the same chunks.
func stateless(p policy.Policy, obs []policy.Observation) error {
	first, err := act(p, obs, nil)
	if err != nil {
		return err
	}
	other := slices.Clone(obs)
	slices.Reverse(other)
	if _, err := act(p, other, Steering(other)); err != nil {
		return err
	}
	again, err := act(p, obs, nil)
	if err != nil {
		return err
	}
	if err := Near(again, first, 0, 0); err != nil {
		return fmt.Errorf("the same call after another gave other chunks: %w", err)
	}
	return nil
}

// batchIndependent: each observation alone gets its chunk in the batch.
func batchIndependent(p policy.Policy, obs []policy.Observation) error {
	steer := Steering(obs)
	all, err := act(p, obs, steer)
	if err != nil {
		return err
	}
	for i := range obs {
		one, err := act(p, obs[i:i+1], steer[i:i+1])
		if err != nil {
			return err
		}
		if err := Near(one, all[i:i+1], AbsTolerance, RelTolerance); err != nil {
			return fmt.Errorf("observation %d alone and in a batch of %d: %w", i, len(obs), err)
		}
	}
	return nil
}

// Steering is one full steering context per observation: task, subtask,
// every metadata field and a subgoal image (the observation's own frame).
func Steering(obs []policy.Observation) []policy.Context {
	no := false
	speeds := []string{policy.SpeedSlow, policy.SpeedNormal, policy.SpeedFast}
	steer := make([]policy.Context, len(obs))
	for i, o := range obs {
		steer[i] = policy.Context{Task: "push the T", Subtask: "approach",
			Metadata:      policy.Metadata{Speed: speeds[i%3], Quality: 1 + i%5, Mistake: &no},
			SubgoalImages: [][]uint8{slices.Clone(o.Image)}}
	}
	return steer
}

func badInput(p policy.Policy, obs []policy.Observation) error {
	quality := Steering(obs)
	quality[1].Metadata.Quality = 6
	type input struct {
		name  string
		obs   []policy.Observation
		steer []policy.Context
	}
	tests := []input{
		{"contexts for another batch", obs, Steering(obs[:1])},
		{"quality outside 0..5", obs, quality},
	}
	if p.Spec().FrameLen() > 0 { // a spec that does not say cannot be missed
		short := slices.Clone(obs)
		short[1].Image = short[1].Image[:len(short[1].Image)-1]
		tests = append(tests, input{"frame off the spec", short, nil})
	}
	var errs []error
	for _, tt := range tests {
		if _, err := p.Act(context.Background(), tt.obs, tt.steer); !errors.Is(err, policy.ErrBadInput) {
			errs = append(errs, fmt.Errorf("%s: err %v, want policy.ErrBadInput", tt.name, err))
		}
	}
	return errors.Join(errs...)
}

// act is p.Act, its chunks checked against the spec.
func act(p policy.Policy, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	out, err := p.Act(context.Background(), obs, steer)
	if err != nil {
		return nil, err
	}
	if err := p.Spec().ValidateChunks(out, len(obs)); err != nil {
		return nil, fmt.Errorf("chunks off the spec: %w", err)
	}
	return out, nil
}

// Near reports how got differs from want beyond abs + rel*|want| in any
// action value (0, 0: bit for bit, NaNs alike).
func Near(got, want []policy.Chunk, abs, rel float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d chunks, want %d", len(got), len(want))
	}
	for i := range got {
		if len(got[i].Actions) != len(want[i].Actions) {
			return fmt.Errorf("chunk %d: %d actions, want %d", i, len(got[i].Actions), len(want[i].Actions))
		}
		for k, a := range got[i].Actions {
			w := want[i].Actions[k]
			if len(a) != len(w) {
				return fmt.Errorf("chunk %d action %d: %d values, want %d", i, k, len(a), len(w))
			}
			for j := range a {
				g, x := float64(a[j]), float64(w[j])
				same := math.Float32bits(a[j]) == math.Float32bits(w[j]) || (math.IsNaN(g) && math.IsNaN(x))
				if !same && !(math.Abs(g-x) <= abs+rel*math.Abs(x)) {
					return fmt.Errorf("chunk %d action %d value %d: %v, want %v", i, k, j, a[j], w[j])
				}
			}
		}
	}
	return nil
}
