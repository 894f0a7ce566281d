package pusht

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestLegacyStateSetter(t *testing.T) {
	tests := []struct {
		name      string
		state     [5]float64
		wantAgent Vec2
		wantBlock Pose
	}{
		// docs/references.md: state [0,10,20,30,1] gives block origin (57.866, 50.686)
		// (position set at angle 0, then rotated about the CoG (0,45)).
		{"reference example", [5]float64{0, 10, 20, 30, 1}, Vec2{0, 10}, Pose{57.866, 50.686, 1}},
		{"angle zero keeps origin", [5]float64{256, 400, 256, 300, 0}, Vec2{256, 400}, Pose{256, 300, 0}},
		{"half turn moves origin 90 down", [5]float64{100, 100, 300, 200, math.Pi}, Vec2{100, 100}, Pose{300, 290, math.Pi}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			e.resetLegacyState(tc.state)
			s := e.State()
			if !near(s.Agent.X, tc.wantAgent.X, 1e-9) || !near(s.Agent.Y, tc.wantAgent.Y, 1e-9) {
				t.Errorf("agent %v, want %v", s.Agent, tc.wantAgent)
			}
			b := s.Block
			if !near(b.X, tc.wantBlock.X, 1e-3) || !near(b.Y, tc.wantBlock.Y, 1e-3) ||
				!near(wrapAngle(b.Angle-tc.wantBlock.Angle), 0, 1e-12) {
				t.Errorf("block %+v, want %+v", b, tc.wantBlock)
			}
		})
	}
}

func TestResetLegacySeeds(t *testing.T) {
	// Seed 100000's draws are NumPy's (legacyrng golden file):
	// agent (235,124), block (335,128), angle -0.9049274284249247.
	a := -0.9049274284249247
	tests := []struct {
		name string
		seed int64
		want [5]float64
		tol  float64
	}{
		// The replay dataset's first episode starts from seed 0; its
		// recorded first state (float32) is reproduced.
		{"seed 0 is dataset episode 0", 0, [5]float64{222, 97, 222.99382, 381.59903, 3.0079994}, 1e-4},
		{"seed 100000", 100000, [5]float64{235, 124, 335 + 45*math.Sin(a), 128 + 45 - 45*math.Cos(a), a + 2*math.Pi}, 1e-9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			e.ResetLegacy(tc.seed)
			s := e.State()
			got := [5]float64{s.Agent.X, s.Agent.Y, s.Block.X, s.Block.Y, s.Block.Angle}
			for i := range got {
				if !near(got[i], tc.want[i], tc.tol) {
					t.Fatalf("state %v, want %v", got, tc.want)
				}
			}
			if s.AgentVel != (Vec2{}) {
				t.Errorf("agent velocity %v after reset, want 0", s.AgentVel)
			}
		})
	}
}

func TestResetLegacyRejectsBadSeed(t *testing.T) {
	for _, seed := range []int64{-1, 1 << 32} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("seed %d accepted", seed)
				}
			}()
			New(Config{}).ResetLegacy(seed)
		}()
	}
}

func TestSetStateRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		in    State
		angle float64 // expected angle: State reports it modulo 2pi
	}{
		{"plain", State{Vec2{100, 200}, Vec2{3, -4}, Pose{300, 310, 1.25}}, 1.25},
		{"negative angle", State{Vec2{50, 60}, Vec2{}, Pose{200, 220, -1}}, 2*math.Pi - 1},
		{"angle above 2pi", State{Vec2{50, 60}, Vec2{}, Pose{200, 220, 7}}, 7 - 2*math.Pi},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			e.SetState(tc.in)
			got := e.State()
			if got.Agent != tc.in.Agent || got.AgentVel != tc.in.AgentVel {
				t.Errorf("agent %v vel %v, want %v %v", got.Agent, got.AgentVel, tc.in.Agent, tc.in.AgentVel)
			}
			if !near(got.Block.X, tc.in.Block.X, 1e-9) || !near(got.Block.Y, tc.in.Block.Y, 1e-9) || !near(got.Block.Angle, tc.angle, 1e-12) {
				t.Errorf("block %+v, want %+v with angle %v", got.Block, tc.in.Block, tc.angle)
			}
		})
	}
}

// TestPusherFollowsPDLaw re-derives the pusher's motion independently: per
// sub-step v += (kp(target-p) - kv v) dt, then p += v dt.
func TestPusherFollowsPDLaw(t *testing.T) {
	tests := []struct {
		name   string
		start  State
		target Vec2
		steps  int
	}{
		{"from rest", State{Agent: Vec2{100, 100}, Block: Pose{400, 400, 0}}, Vec2{130, 80}, 1},
		{"moving, several steps", State{Agent: Vec2{100, 100}, AgentVel: Vec2{50, -20}, Block: Pose{400, 400, 0}}, Vec2{60, 150}, 5},
		// Kinematic: the walls do not stop it.
		{"through the wall", State{Agent: Vec2{20, 250}, Block: Pose{400, 400, 0}}, Vec2{-100, 250}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			e.SetState(tc.start)
			p, v := tc.start.Agent, tc.start.AgentVel
			for s := 0; s < tc.steps; s++ {
				e.Step(tc.target)
				for i := 0; i < 10; i++ {
					v.X += (100*(tc.target.X-p.X) - 20*v.X) * 0.01
					v.Y += (100*(tc.target.Y-p.Y) - 20*v.Y) * 0.01
					p.X += v.X * 0.01
					p.Y += v.Y * 0.01
				}
			}
			got := e.State()
			if !near(got.Agent.X, p.X, 1e-9) || !near(got.Agent.Y, p.Y, 1e-9) ||
				!near(got.AgentVel.X, v.X, 1e-9) || !near(got.AgentVel.Y, v.Y, 1e-9) {
				t.Errorf("pusher %v vel %v, want %v vel %v", got.Agent, got.AgentVel, p, v)
			}
		})
	}
}

func TestBlockMovesOnlyWhenPushed(t *testing.T) {
	start := State{Agent: Vec2{256, 440}, Block: Pose{256, 300, 0}}
	tests := []struct {
		name   string
		target Vec2
		moved  bool
	}{
		{"pusher stays clear", Vec2{100, 460}, false},
		// The stem's tip is at y=420; driving the pusher up pushes the T up.
		{"pusher drives into stem", Vec2{256, 380}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New(Config{})
			e.SetState(start)
			for i := 0; i < 3; i++ {
				e.Step(tc.target)
			}
			b := e.State().Block
			moved := b != start.Block
			if moved != tc.moved {
				t.Fatalf("block %+v, moved=%v want %v", b, moved, tc.moved)
			}
			if tc.moved && !(b.Y < start.Block.Y-1) {
				t.Errorf("block %+v was not pushed up", b)
			}
		})
	}
}

func TestCloneIsIndependent(t *testing.T) {
	e := New(Config{})
	e.SetState(State{Agent: Vec2{256, 440}, Block: Pose{256, 300, 0}})
	e.Step(Vec2{256, 380})
	c := e.Clone()
	if c.State() != e.State() {
		t.Fatalf("clone state %+v, original %+v", c.State(), e.State())
	}
	c.Step(Vec2{100, 100})
	before := e.State()
	if c.State() == before {
		t.Fatal("clone did not move")
	}
	if e.State() != before {
		t.Fatal("stepping the clone changed the original")
	}
}

// TestStepWithoutContactDoesNotAllocate guards the planner's hot path; in
// contact Chipmunk itself allocates a few small objects per contact pair.
func TestStepWithoutContactDoesNotAllocate(t *testing.T) {
	e := New(Config{})
	e.SetState(State{Agent: Vec2{60, 60}, Block: Pose{300, 300, 0}})
	e.Step(Vec2{70, 60})
	if n := testing.AllocsPerRun(50, func() { e.Step(Vec2{70, 60}) }); n != 0 {
		t.Errorf("Step allocates %.1f times", n)
	}
	if n := testing.AllocsPerRun(50, func() { e.SetState(State{Agent: Vec2{60, 60}, Block: Pose{300, 300, 0}}) }); n != 0 {
		t.Errorf("SetState allocates %.1f times", n)
	}
}
