package tabletop

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testLayout is an L of unequal part masses with a derived moment, unlike
// PushT's T (equal masses, fixed moment; tested in foundation/pusht).
var testLayout = Layout{
	Parts: [2][4]Vec2{
		{{-75, -30}, {45, -30}, {45, 0}, {-75, 0}},
		{{15, 0}, {45, 0}, {45, 60}, {15, 60}},
	},
	PartMass:   [2]float64{2.0 / 3, 1.0 / 3},
	BlockStart: Pose{256, 300, 0},
	AgentStart: Vec2{256, 400},
}

type fullState struct {
	State
	BlockVel Vec2
	BlockW   float64
}

func snapshot(w *World) fullState {
	v, om := w.BlockVelocity()
	return fullState{w.State(), v, om}
}

// TestResetMatchesFreshWorld: SetState on a used world is bit-identical to
// SetState on a new one, whatever the used one did before.
func TestResetMatchesFreshWorld(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	used := NewWorld(Config{}, testLayout)
	pushed := 0
	for trial := range 30 {
		s := State{
			Agent: Vec2{200 + r.Float64()*110, 200 + r.Float64()*110},
			Block: Pose{200 + r.Float64()*110, 200 + r.Float64()*110, r.Float64() * 6},
		}
		fresh := NewWorld(Config{}, testLayout)
		fresh.SetState(s)
		used.SetState(s)
		for i := range 10 {
			a := Vec2{s.Block.X + r.Float64()*120 - 60, s.Block.Y + r.Float64()*120 - 60}
			fresh.Drive(a)
			used.Drive(a)
			if f, u := snapshot(fresh), snapshot(used); f != u {
				t.Fatalf("trial %d step %d: fresh %+v, reused %+v", trial, i, f, u)
			}
		}
		if fresh.BlockPose() != s.Block {
			pushed++
		}
		for range r.IntN(10) {
			used.Drive(Vec2{r.Float64() * 512, r.Float64() * 512})
		}
	}
	if pushed < 10 {
		t.Fatalf("only %d of 30 trials moved the block", pushed)
	}
}

func TestDriveSettlesOnTarget(t *testing.T) {
	w := NewWorld(Config{}, testLayout)
	w.SetState(State{Agent: Vec2{60, 60}, Block: Pose{400, 400, 0}})
	for range 30 {
		w.Drive(Vec2{120, 90})
	}
	if p, v := w.Agent(); math.Hypot(p.X-120, p.Y-90) > 0.5 || math.Hypot(v.X, v.Y) > 1 {
		t.Errorf("pusher at %v moving %v, want at rest on (120,90)", p, v)
	}
	if w.BlockPose() != (Pose{400, 400, 0}) {
		t.Errorf("untouched block moved to %+v", w.BlockPose())
	}
}

func TestStateReducesAngle(t *testing.T) {
	w := NewWorld(Config{}, testLayout)
	w.SetState(State{Block: Pose{256, 256, -1}})
	if got := w.State().Block.Angle; math.Abs(got-(2*math.Pi-1)) > 1e-12 {
		t.Errorf("angle %v, want 2pi-1", got)
	}
	if got := w.BlockPose().Angle; got != -1 {
		t.Errorf("raw angle %v, want -1", got)
	}
}

func TestCloneKeepsState(t *testing.T) {
	w := NewWorld(Config{}, testLayout)
	w.SetState(State{Agent: Vec2{100, 200}, Block: Pose{300, 300, 1}})
	w.Drive(Vec2{150, 220})
	c := w.Clone()
	if c.State() != w.State() || c.Config() != w.Config() {
		t.Errorf("clone %+v, original %+v", c.State(), w.State())
	}
}

func TestNewWorldRejectsBadConfig(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("SimHz 100, ControlHz 30 accepted")
		}
	}()
	NewWorld(Config{ControlHz: 30}, testLayout)
}
