package pusht

import (
	"math"
	"math/rand/v2"
	"testing"
)

// shifted moves the goal pose by (dx, dy) in the T's own frame.
func shifted(dx, dy float64) Pose {
	s, c := math.Sincos(Goal.Angle)
	return Pose{Goal.X + c*dx - s*dy, Goal.Y + s*dx + c*dy, Goal.Angle}
}

func TestCoverage(t *testing.T) {
	tests := []struct {
		name  string
		block Pose
		want  float64
	}{
		{"goal pose", Goal, 1},
		{"goal angle plus 2pi", Pose{Goal.X, Goal.Y, Goal.Angle + 2*math.Pi}, 1},
		{"far away", Pose{60, 450, 0}, 0},
		// Sliding along the bar by 10: bars overlap 110x30, stems 20x90.
		{"slide 10 along bar", shifted(10, 0), (110*30 + 20*90) / 6300.0},
		// Sliding by 60: bars overlap 60x30, the stems no longer meet.
		{"slide 60 along bar", shifted(60, 0), 60 * 30 / 6300.0},
		// Sliding 15 down the stem: bars 120x15, stems 30x75, and the
		// block's bar covers the goal's stem top 30x15.
		{"slide 15 along stem", shifted(0, 15), (120*15 + 30*75 + 30*15) / 6300.0},
		// Half a turn about the origin: the bars meet along an edge only and
		// the stems point apart, so nothing overlaps.
		{"half turn about origin", Pose{Goal.X, Goal.Y, Goal.Angle + math.Pi}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Coverage(tc.block); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Coverage(%v) = %.12f, want %.12f", tc.block, got, tc.want)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name        string
		block       Pose
		wantReward  float64
		wantSuccess bool
	}{
		{"at goal", Goal, 1, true},
		{"far away", Pose{60, 450, 0}, 0, false},
		{"slide 10", shifted(10, 0), (110*30 + 20*90) / 6300.0 / 0.95, false},
		{"slide 1", shifted(1, 0), 1, true}, // coverage 0.981 > 0.95
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Outcome(tc.block)
			if math.Abs(got.Reward-tc.wantReward) > 1e-9 || got.Success != tc.wantSuccess {
				t.Errorf("Outcome = %+v, want reward %.6f success %v", got, tc.wantReward, tc.wantSuccess)
			}
		})
	}
}

// TestCoverageAgainstSampling compares the exact clipping with a dense grid
// count of points inside both Ts for poses scattered around the goal.
func TestCoverageAgainstSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 8; i++ {
		p := Pose{Goal.X + r.Float64()*80 - 40, Goal.Y + r.Float64()*80 - 40, Goal.Angle + r.Float64()*2 - 1}
		const step = 0.25
		var in int
		for y := 100.0; y < 412; y += step {
			for x := 100.0; x < 412; x += step {
				q := Vec2{x, y}
				if insideTee(Goal, q) && insideTee(p, q) {
					in++
				}
			}
		}
		want := float64(in) * step * step / teeArea
		if got := Coverage(p); math.Abs(got-want) > 2e-3 {
			t.Errorf("pose %v: Coverage %.5f, grid estimate %.5f", p, got, want)
		}
	}
}

// insideTee tests a world point against the T at pose p in body coordinates.
func insideTee(p Pose, q Vec2) bool {
	s, c := math.Sincos(p.Angle)
	dx, dy := q.X-p.X, q.Y-p.Y
	x, y := c*dx+s*dy, -s*dx+c*dy
	return (x >= -60 && x < 60 && y >= 0 && y < 30) || (x >= -15 && x < 15 && y >= 30 && y < 120)
}

func TestCoverageDoesNotAllocate(t *testing.T) {
	p := shifted(7, 3)
	if n := testing.AllocsPerRun(100, func() { Coverage(p) }); n != 0 {
		t.Errorf("Coverage allocates %.0f times", n)
	}
}
