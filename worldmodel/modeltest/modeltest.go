// Package modeltest checks that a worldmodel.Model keeps the interface's
// contract, so every backend (built-in, remote, baseline) is tested alike.
package modeltest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"dreamrank/worldmodel"
)

// Observations returns n random observations that fit spec.
func Observations(spec worldmodel.Spec, n int, rng *rand.Rand) []worldmodel.Observation {
	obs := make([]worldmodel.Observation, n)
	for i := range obs {
		f := make([]uint8, spec.FrameLen())
		for j := range f {
			f[j] = uint8(rng.IntN(256))
		}
		p := make([]float32, spec.ProprioDim)
		for j := range p {
			p[j] = float32(rng.Float64() * 512)
		}
		obs[i] = worldmodel.Observation{Frame: f, Proprio: p}
	}
	return obs
}

// Actions returns a random action chunk per episode.
func Actions(spec worldmodel.Spec, batch, chunk int, rng *rand.Rand) [][][]float32 {
	a := make([][][]float32, batch)
	for i := range a {
		a[i] = make([][]float32, chunk)
		for k := range a[i] {
			a[i][k] = make([]float32, spec.ActionDim)
			for j := range a[i][k] {
				a[i][k][j] = float32(rng.Float64() * 512)
			}
		}
	}
	return a
}

// Contract runs the interface checks on m: shapes, input validation,
// determinism, batch independence and Close.
func Contract(t *testing.T, m worldmodel.Model) {
	t.Helper()
	ctx := context.Background()
	spec := m.Spec()
	if spec.FrameLen() <= 0 || spec.ActionDim <= 0 || spec.ContextLen <= 0 {
		t.Fatalf("spec %+v: sizes must be positive", spec)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ctxLen := spec.ContextLen
	contexts := [][]worldmodel.Observation{Observations(spec, ctxLen, rng), Observations(spec, 1, rng), Observations(spec, ctxLen, rng)}
	actions := Actions(spec, len(contexts), 3, rng)

	t.Run("shapes", func(t *testing.T) {
		pred := run(t, m, contexts, actions)
		if len(pred) != len(contexts) {
			t.Fatalf("%d episodes predicted, want %d", len(pred), len(contexts))
		}
		for i := range pred {
			if len(pred[i]) != 6 {
				t.Fatalf("episode %d: %d steps predicted over two chunks of 3, want 6", i, len(pred[i]))
			}
			for k, o := range pred[i] {
				if len(o.Frame) != spec.FrameLen() || len(o.Proprio) != spec.ProprioDim {
					t.Fatalf("episode %d step %d: frame %d bytes, proprio %d", i, k, len(o.Frame), len(o.Proprio))
				}
			}
		}
	})
	t.Run("deterministic", func(t *testing.T) {
		a, b := run(t, m, contexts, actions), run(t, m, contexts, actions)
		if !Equal(a, b) {
			t.Fatal("the same inputs gave different predictions")
		}
	})
	// Bit for bit, on purpose: a backend must compute each episode with the
	// same shapes whatever its batch (latent's tiles, objects' per-episode
	// MLP), because BLAS kernels sum in an order that depends on the shape
	// and the CPU (issue 17); a batch-mixing bug is off by far more anyway.
	t.Run("batch independent", func(t *testing.T) {
		all := run(t, m, contexts, actions)
		one := run(t, m, contexts[2:], actions[2:])
		if !Equal(all[2:], one) {
			t.Fatal("an episode's prediction depends on the other episodes of its batch")
		}
	})
	t.Run("bad input", func(t *testing.T) {
		bad := [][]worldmodel.Observation{{{Frame: make([]uint8, 3), Proprio: make([]float32, spec.ProprioDim)}}}
		if _, err := m.Start(ctx, bad); !errors.Is(err, worldmodel.ErrBadInput) {
			t.Fatalf("short frame: err = %v, want ErrBadInput", err)
		}
		r, err := m.Start(ctx, contexts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Step(ctx, actions[:1]); !errors.Is(err, worldmodel.ErrBadInput) {
			t.Fatalf("actions for too few episodes: err = %v, want ErrBadInput", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		r, err := m.Start(ctx, contexts)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Step(ctx, actions); !errors.Is(err, worldmodel.ErrClosed) {
			t.Fatalf("Step after Close: err = %v, want ErrClosed", err)
		}
	})
}

func run(t *testing.T, m worldmodel.Model, contexts [][]worldmodel.Observation, actions [][][]float32) [][]worldmodel.Observation {
	t.Helper()
	ctx := context.Background()
	r, err := m.Start(ctx, contexts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Two chunks, so state carried between Steps is exercised too.
	first, err := r.Step(ctx, actions)
	if err != nil {
		t.Fatal(err)
	}
	second, err := r.Step(ctx, actions)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != len(contexts) || len(second) != len(contexts) {
		t.Fatalf("predicted %d and %d episodes, want %d", len(first), len(second), len(contexts))
	}
	for i := range first {
		first[i] = append(slices.Clip(first[i]), second[i]...)
	}
	return first
}

// Drift moves a test model's episode by a chunk of actions and returns its
// observation after each: every action XORs a pattern from its first and
// last values into the frame and adds itself to the proprioception, with
// awkward float32 values, so that predictions that cross a transport bit
// for bit (remote, websocket) mean something. last is updated in place;
// the observations returned are copies.
func Drift(last *worldmodel.Observation, chunk [][]float32) []worldmodel.Observation {
	out := make([]worldmodel.Observation, len(chunk))
	for k, a := range chunk {
		pat := uint8(math.Float32bits(a[0]) ^ math.Float32bits(a[len(a)-1])>>7)
		for p := range last.Frame {
			last.Frame[p] ^= pat + uint8(p)
		}
		for j := range last.Proprio {
			last.Proprio[j] = last.Proprio[j]*1.0000001 + a[j%len(a)]/3
		}
		out[k] = worldmodel.Observation{Frame: slices.Clone(last.Frame), Proprio: slices.Clone(last.Proprio)}
	}
	return out
}

// Equal reports whether two batches of predictions are identical, byte for
// byte and bit for bit.
func Equal(a, b [][]worldmodel.Observation) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for k := range a[i] {
			if !slices.Equal(a[i][k].Frame, b[i][k].Frame) || !slices.Equal(a[i][k].Proprio, b[i][k].Proprio) {
				return false
			}
		}
	}
	return true
}

// Diff says where two batches of predictions first differ, comparing
// frames byte for byte and proprioception bit for bit (NaN matches NaN,
// -0 does not match 0), as a prediction that crossed a transport must be;
// nil when they are identical.
func Diff(a, b [][]worldmodel.Observation) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d vs %d episodes", len(a), len(b))
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return fmt.Errorf("episode %d: %d vs %d steps", i, len(a[i]), len(b[i]))
		}
		for k := range a[i] {
			if !slices.Equal(a[i][k].Frame, b[i][k].Frame) {
				return fmt.Errorf("episode %d step %d: frames differ", i, k)
			}
			if len(a[i][k].Proprio) != len(b[i][k].Proprio) {
				return fmt.Errorf("episode %d step %d: proprio lengths differ", i, k)
			}
			for j := range a[i][k].Proprio {
				if math.Float32bits(a[i][k].Proprio[j]) != math.Float32bits(b[i][k].Proprio[j]) {
					return fmt.Errorf("episode %d step %d proprio %d: %v vs %v", i, k, j, a[i][k].Proprio[j], b[i][k].Proprio[j])
				}
			}
		}
	}
	return nil
}
