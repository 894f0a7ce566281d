package slots

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/episode"
)

// A synthetic robot scene that shares nothing with PushT: 64x64 frames, a
// seven-joint robot whose first two joints move a red square (the
// effector) across the table and whose other five move nothing that shows,
// and a blue L-shaped block it pushes (translation only) over a textured
// background.
const (
	synthSize  = 64
	synthDim   = 7
	synthSteps = 40
)

var (
	synthRed  = [3]float64{200, 60, 60}
	synthBlue = [3]float64{50, 70, 200}
)

// synthState is the simulator's state: joints and the block's centre.
type synthState struct {
	joints [synthDim]float64
	bx, by float64
}

// effectorAt is where the first two joints put the square's centre.
func effectorAt(j [synthDim]float64) (float64, float64) { return 8 + 0.1*j[0], 8 + 0.1*j[1] }

// inL reports whether a point, relative to the block's centre, is on the
// L: a 12x4 bar and a 4x8 leg at its left end.
func inL(x, y float64) bool {
	return (x >= -6 && x < 6 && y >= -4 && y < 0) || (x >= -6 && x < -2 && y >= 0 && y < 6)
}

// render draws a state with 4x4 supersampling.
func (s synthState) render() []uint8 {
	ex, ey := effectorAt(s.joints)
	out := make([]uint8, synthSize*synthSize*3)
	for y := range synthSize {
		for x := range synthSize {
			var acc [3]float64
			for sy := range 4 {
				for sx := range 4 {
					px, py := float64(x)+(float64(sx)+0.5)/4, float64(y)+(float64(sy)+0.5)/4
					col := [3]float64{235, 235, 225}
					if (x/8+y/8)%2 == 0 {
						col = [3]float64{215, 220, 215} // a static checkerboard
					}
					if inL(px-s.bx, py-s.by) {
						col = synthBlue
					}
					if math.Abs(px-ex) < 3 && math.Abs(py-ey) < 3 {
						col = synthRed
					}
					for c := range 3 {
						acc[c] += col[c] / 16
					}
				}
			}
			for c := range 3 {
				out[(y*synthSize+x)*3+c] = uint8(math.Round(acc[c]))
			}
		}
	}
	return out
}

// step moves the joints halfway to the action and the block with the
// square while they overlap.
func (s *synthState) step(a []float32) {
	ox, oy := effectorAt(s.joints)
	for i := range s.joints {
		s.joints[i] += 0.5 * (float64(a[i]) - s.joints[i])
	}
	nx, ny := effectorAt(s.joints)
	if math.Abs(nx-s.bx) < 8 && math.Abs(ny-s.by) < 6 {
		s.bx += nx - ox
		s.by += ny - oy
	}
}

// synthStore writes n episodes of a robot that heads for the block and
// pushes through it.
func synthStore(t *testing.T, n int) *episode.Store {
	t.Helper()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range n {
		s := synthState{bx: 20 + 24*rng.Float64(), by: 20 + 24*rng.Float64()}
		for j := range s.joints {
			s.joints[j] = 400 * rng.Float64()
		}
		e := &episode.Episode{Meta: episode.Meta{ID: episode.NewID(), Source: "synthetic", FrameH: synthSize, FrameW: synthSize, Channels: 3}}
		goal := [2]float64{(s.bx - 8) / 0.1, (s.by - 8) / 0.1}
		for k := range synthSteps {
			a := make([]float32, synthDim)
			for j := range a {
				a[j] = float32(s.joints[j] + 40*rng.NormFloat64())
			}
			if k > 5 {
				goal[0] += 30 * (rng.Float64() - 0.3)
			}
			a[0], a[1] = float32(goal[0]+20*rng.NormFloat64()), float32(goal[1]+20*rng.NormFloat64())
			p := make([]float32, synthDim)
			for j := range p {
				p[j] = float32(s.joints[j])
			}
			e.Frames = append(e.Frames, s.render())
			e.Proprio = append(e.Proprio, p)
			e.Actions = append(e.Actions, a)
			e.Timestamps = append(e.Timestamps, float64(k)/10)
			s.step(a)
		}
		if err := store.Put(context.Background(), e, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		_ = i
	}
	return store
}
