package pushl

import (
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/pusht"
)

func TestCoverage(t *testing.T) {
	shift := func(dx, dy, da float64) pusht.Pose {
		return pusht.Pose{X: Goal.X + dx, Y: Goal.Y + dy, Angle: Goal.Angle + da}
	}
	tests := []struct {
		name   string
		block  pusht.Pose
		lo, hi float64
	}{
		{"at the goal", Goal, 1 - 1e-12, 1 + 1e-12},
		{"full turn is the goal", shift(0, 0, 2*math.Pi), 1 - 1e-9, 1 + 1e-9},
		{"far away", pusht.Pose{X: 100, Y: 420}, 0, 0},
		{"half turn", shift(0, 0, math.Pi), 0.05, 0.6},
		{"1 px off still succeeds", shift(0.7, 0.7, 0), 0.95, 0.99},
		{"2 px off fails", shift(1.5, 1.5, 0), 0.9, 0.95},
		{"10 px off fails", shift(10, 0, 0), 0.5, 0.95},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Coverage(tc.block)
			if c < tc.lo || c > tc.hi {
				t.Errorf("coverage %.4f outside [%.4f, %.4f]", c, tc.lo, tc.hi)
			}
			if out := Outcome(tc.block); out.Success != (c > SuccessCoverage) || out.Reward != math.Min(c/SuccessCoverage, 1) {
				t.Errorf("outcome %+v for coverage %.4f", out, c)
			}
		})
	}
}

// TestCoverageAgainstSampling compares the exact clipping with a dense grid
// count of points inside both Ls.
func TestCoverageAgainstSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 6 {
		p := pusht.Pose{X: Goal.X + r.Float64()*60 - 30, Y: Goal.Y + r.Float64()*60 - 30, Angle: Goal.Angle + r.Float64()*2 - 1}
		const step = 0.25
		in := 0
		for y := 140.0; y < 372; y += step {
			for x := 140.0; x < 372; x += step {
				q := pusht.Vec2{X: x, Y: y}
				if insideL(Goal, q) && insideL(p, q) {
					in++
				}
			}
		}
		want := float64(in) * step * step / Area
		if got := Coverage(p); math.Abs(got-want) > 2e-3 {
			t.Errorf("pose %v: Coverage %.5f, grid estimate %.5f", p, got, want)
		}
	}
}

func insideL(p pusht.Pose, q pusht.Vec2) bool {
	s, c := math.Sincos(p.Angle)
	dx, dy := q.X-p.X, q.Y-p.Y
	x, y := c*dx+s*dy, -s*dx+c*dy
	return (x >= -75 && x < 45 && y >= -30 && y < 0) || (x >= 15 && x < 45 && y >= 0 && y < 60)
}

func TestResetIsSeededAndInRange(t *testing.T) {
	e := New(pusht.Config{})
	seen := map[pusht.State]bool{}
	for seed := int64(0); seed < 50; seed++ {
		e.Reset(seed)
		s := e.State()
		if s != InitialState(seed) && s.Block.Angle != InitialState(seed).Block.Angle+2*math.Pi {
			t.Fatalf("seed %d: reset to %+v, InitialState %+v", seed, s, InitialState(seed))
		}
		if s.Agent.X < 50 || s.Agent.X >= 450 || s.Block.X < 100 || s.Block.X >= 400 || s.Block.Y < 100 || s.Block.Y >= 400 {
			t.Errorf("seed %d: state %+v out of range", seed, s)
		}
		seen[s] = true
	}
	if len(seen) != 50 {
		t.Errorf("50 seeds gave %d distinct states", len(seen))
	}
}

// A push through the centre of gravity translates the block without
// turning it, which holds only if the body origin is the CoG.
func TestPushThroughCoGDoesNotTurn(t *testing.T) {
	e := New(pusht.Config{})
	block := pusht.Pose{X: 256, Y: 256}
	// The pusher starts left of the bar on the CoG's row (the bar spans
	// y in [-30,0]; the CoG is on its lower edge, so aim just inside it).
	e.SetState(pusht.State{Agent: pusht.Vec2{X: 256 - 75 - 20, Y: 256 - 1}, Block: block})
	for i := range 12 {
		e.Step(pusht.Vec2{X: 256 - 75 - 20 + 5*float64(i+1), Y: 256 - 1})
	}
	s := e.State().Block
	turn := math.Abs(math.Remainder(s.Angle, 2*math.Pi))
	if s.X-block.X < 20 || turn > 0.02 {
		t.Errorf("block moved %.1f px and turned %.3f rad, want > 20 px and no turn", s.X-block.X, turn)
	}
}

func TestRenderFlatColours(t *testing.T) {
	block := pusht.Pose{X: 140, Y: 400, Angle: 0.3}
	img, err := RenderState(pusht.Vec2{X: 420, Y: 100}, block, 512)
	if err != nil {
		t.Fatal(err)
	}
	count := func(img []uint8, col [3]uint8) int {
		n := 0
		for i := 0; i < len(img); i += 3 {
			if img[i] == col[0] && img[i+1] == col[1] && img[i+2] == col[2] {
				n++
			}
		}
		return n
	}
	// Filled polygons include their boundary pixels, so a few hundred more
	// than the area, never less.
	for _, tc := range []struct {
		name string
		col  [3]uint8
	}{{"block", BlockColour}, {"target", TargetColour}} {
		if n := count(img, tc.col); n < Area || n > Area+600 {
			t.Errorf("%s: %d pixels of its colour, want about %d", tc.name, n, Area)
		}
	}
	target, err := RenderTarget(96)
	if err != nil {
		t.Fatal(err)
	}
	if n := count(target, BlockColour); n != 0 {
		t.Errorf("target frame shows %d block pixels", n)
	}
	if _, err := RenderState(pusht.Vec2{}, block, 0); err == nil {
		t.Error("size 0 accepted")
	}
}

func TestObserve(t *testing.T) {
	e := New(pusht.Config{})
	e.Reset(7)
	o := e.Observe()
	if len(o.Image) != ObsSize*ObsSize*3 || o.Agent != e.State().Agent {
		t.Errorf("observation: %d bytes, agent %v", len(o.Image), o.Agent)
	}
	c := e.Clone()
	a, b := e.Step(pusht.Vec2{X: 256, Y: 256}), c.Step(pusht.Vec2{X: 256, Y: 256})
	if a.Coverage != b.Coverage || e.State() != c.State() {
		t.Errorf("clone diverged after one step from rest: %+v vs %+v", e.State(), c.State())
	}
}
