package slots

import (
	"context"
	"errors"
	"slices"
	"testing"

	"dreamrank/worldmodel"
)

// synthContexts are n episodes' contexts of the synthetic scene, the
// square at a different place in each, and a chunk of actions towards the
// block.
func synthContexts(n, chunk int) ([][]worldmodel.Observation, [][][]float32) {
	var contexts [][]worldmodel.Observation
	var actions [][][]float32
	for i := range n {
		s := synthState{bx: 40, by: 40}
		for j := range s.joints {
			s.joints[j] = float64(100 + 40*i)
		}
		var obs []worldmodel.Observation
		for range 3 {
			p := make([]float32, synthDim)
			for j := range p {
				p[j] = float32(s.joints[j])
			}
			obs = append(obs, worldmodel.Observation{Frame: s.render(), Proprio: p})
		}
		var acts [][]float32
		for k := range chunk {
			a := make([]float32, synthDim)
			for j := range a {
				a[j] = float32(300 + 10*k)
			}
			acts = append(acts, a)
		}
		contexts, actions = append(contexts, obs), append(actions, acts)
	}
	return contexts, actions
}

// Trace steps one action at a time through Step: its frames and
// proprioception are what one chunked Step returns, and its last state is
// the rollout's.
func TestTraceIsStep(t *testing.T) {
	m := tinyModel(t)
	ctx := context.Background()
	contexts, actions := synthContexts(3, 5)
	tr, err := m.Trace(ctx, contexts, actions)
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Start(ctx, contexts)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tr.Start[1].Poses, r.(*rollout).states[1].poses; !slices.Equal(got, want) {
		t.Errorf("traced start %v, the rollout's %v", got, want)
	}
	out, err := r.Step(ctx, actions)
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		for k := range out[i] {
			if !slices.Equal(tr.Frames[i][k], out[i][k].Frame) || !slices.Equal(tr.Proprio[i][k], out[i][k].Proprio) {
				t.Fatalf("episode %d step %d: the trace differs from the chunked Step", i, k)
			}
			if !slices.Equal(tr.Steps[i][k].Proprio[0], out[i][k].Proprio) {
				t.Fatalf("episode %d step %d: the traced state's proprioception is not the observation's", i, k)
			}
		}
		if got, want := tr.Steps[i][len(actions[i])-1].Poses, r.(*rollout).states[i].poses; !slices.Equal(got, want) {
			t.Errorf("episode %d: traced last poses %v, the rollout's %v", i, got, want)
		}
	}
	if _, err := m.Trace(ctx, contexts, actions[:2]); !errors.Is(err, worldmodel.ErrBadInput) {
		t.Errorf("actions for 2 of 3 episodes: %v, want ErrBadInput", err)
	}
}

// Export gives every array at the size its shape says, the networks'
// layers chained, and refuses a perturbed draw.
func TestExport(t *testing.T) {
	m := tinyModel(t)
	e, err := m.Export()
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Background) != e.H*e.W*e.C || len(e.Room) != e.H*e.W || len(e.Head) != (3*e.D+e.A+1)*e.D {
		t.Errorf("background %d, room %d, head %d values for %dx%dx%d frames, D %d, A %d", len(e.Background), len(e.Room), len(e.Head), e.H, e.W, e.C, e.D, e.A)
	}
	for k, s := range e.Sprites {
		if len(s.Alpha) != s.Side*s.Side || len(s.Premul) != s.Side*s.Side*e.C || s.Reach <= 0 {
			t.Errorf("sprite %d: %d alpha, %d premul values for side %d, reach %g", k, len(s.Alpha), len(s.Premul), s.Side, s.Reach)
		}
	}
	if len(e.Effectors) != 1 || len(e.Passives) != 1 {
		t.Fatalf("%d effectors, %d passives; want 1 and 1", len(e.Effectors), len(e.Passives))
	}
	if f := e.Effectors[0]; len(f.W) != 2*(e.D+1) || f.Radius <= 0 {
		t.Errorf("effector %+v", f)
	}
	p := e.Passives[0]
	if side := 2*p.Half + 1; len(p.Field) != side*side || len(p.Outline) == 0 {
		t.Errorf("passive: field of %d values for half %d, %d outline points", len(p.Field), p.Half, len(p.Outline))
	}
	in := e.PerEffector * len(e.Effectors)
	for i, l := range p.Layers {
		if l.In != in || len(l.W) != l.In*l.Out || len(l.B) != l.Out {
			t.Errorf("layer %d: %dx%d with %d weights, %d biases; want %d inputs", i, l.In, l.Out, len(l.W), len(l.B), in)
		}
		in = l.Out
	}
	if in != 3 {
		t.Errorf("the network outputs %d values, want 3 (shift and turn)", in)
	}
	m.noise = 0.1
	if _, err := m.Export(); !errors.Is(err, ErrConfig) {
		t.Errorf("a perturbed draw's export: %v, want ErrConfig", err)
	}
}
