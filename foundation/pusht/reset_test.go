package pusht

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fullState captures everything that influences the next steps, bit for bit.
type fullState struct {
	State
	BlockVel Vec2
	BlockW   float64
}

func snapshot(e *Env) fullState {
	v, w := e.w.BlockVelocity()
	return fullState{State: e.State(), BlockVel: Vec2(v), BlockW: w}
}

// pushSequence drives the pusher through the block so that contacts (with
// the block, and the block with walls) are solved on most steps.
func pushSequence(r *rand.Rand, s State, n int) []Vec2 {
	out := make([]Vec2, n)
	for i := range out {
		c := s.Block.Apply(blockCoG)
		out[i] = Vec2{c.X + r.Float64()*160 - 80, c.Y + r.Float64()*160 - 80}
	}
	return out
}

func randomState(r *rand.Rand) State {
	b := Pose{60 + r.Float64()*392, 60 + r.Float64()*392, r.Float64() * 2 * math.Pi}
	c := b.Apply(blockCoG)
	return State{
		Agent:    Vec2{c.X + r.Float64()*140 - 70, c.Y + r.Float64()*140 - 70},
		AgentVel: Vec2{r.Float64()*200 - 100, r.Float64()*200 - 100},
		Block:    b,
	}
}

// TestResetMatchesFreshWorld checks that SetState on a used environment is
// bit-identical to SetState on a new one, whatever the used one did before.
func TestResetMatchesFreshWorld(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	used := New(Config{})
	pushed := 0
	for trial := 0; trial < 40; trial++ {
		s := randomState(r)
		acts := pushSequence(r, s, 12)

		fresh := New(Config{})
		fresh.SetState(s)
		used.SetState(s)
		for i, a := range acts {
			fresh.Step(a)
			used.Step(a)
			if f, u := snapshot(fresh), snapshot(used); f != u {
				t.Fatalf("trial %d step %d: fresh %+v, reused %+v", trial, i, f, u)
			}
		}
		if fresh.State().Block != s.Block {
			pushed++
		}
		// Leave history behind: more steps from a different state.
		for _, a := range pushSequence(r, randomState(r), int(r.IntN(20))) {
			used.Step(a)
		}
	}
	// The comparison only means something if contacts were solved.
	if pushed < 20 {
		t.Fatalf("only %d of 40 trials moved the block", pushed)
	}
}

func TestResetLegacyMatchesFreshWorld(t *testing.T) {
	used := New(Config{})
	for seed := int64(0); seed < 20; seed++ {
		fresh := New(Config{})
		fresh.ResetLegacy(seed)
		used.ResetLegacy(seed)
		for i := 0; i < 10; i++ {
			a := Vec2{float64(100 + 30*i), float64(400 - 25*i)}
			fresh.Step(a)
			used.Step(a)
		}
		if f, u := snapshot(fresh), snapshot(used); f != u {
			t.Fatalf("seed %d: fresh %+v, reused %+v", seed, f, u)
		}
	}
}
