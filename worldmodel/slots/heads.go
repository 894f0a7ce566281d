package slots

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// proprioHead predicts the robot's next proprioception linearly:
// p[t+1] - p[t] = M . [p[t]-p[t-1], p[t-1]-p[t-2], a[t], p[t], 1]. A
// position-controlled robot (a PD loop towards its action) moves almost
// exactly like this; it is fitted by least squares.
type proprioHead struct {
	D, A int
	M    []float64 // (3D+A+1) x D, row-major
}

func (h *proprioHead) features(dst []float64, hist [3][]float32, a []float32) []float64 {
	dst = dst[:0]
	for i := range h.D {
		dst = append(dst, float64(hist[0][i]-hist[1][i]))
	}
	for i := range h.D {
		dst = append(dst, float64(hist[1][i]-hist[2][i]))
	}
	for _, v := range a {
		dst = append(dst, float64(v))
	}
	for i := range h.D {
		dst = append(dst, float64(hist[0][i]))
	}
	return append(dst, 1)
}

// next returns the predicted proprioception after action a, from the
// newest three, newest first.
func (h *proprioHead) next(hist [3][]float32, a []float32) []float32 {
	return h.nextInto(make([]float32, h.D), hist, a)
}

// nextInto is next written into out (D values), which may be hist[2]: the
// oldest proprioception is read before out is written.
func (h *proprioHead) nextInto(out []float32, hist [3][]float32, a []float32) []float32 {
	var buf [64]float64
	f := h.features(buf[:0], hist, a)
	for j := range h.D {
		s := float64(hist[0][j])
		for i, v := range f {
			s += v * h.M[i*h.D+j]
		}
		out[j] = float32(s)
	}
	return out
}

// leastSquares solves min |X w - Y| (X n x f, Y n x d, row-major) with a
// ridge of 1e-9 of each column's scale, so a constant or unused input does
// not make it singular.
func leastSquares(x []float64, y []float64, n, f, d int) ([]float64, error) {
	if n < f {
		return nil, fmt.Errorf("%w: %d examples for %d unknowns", ErrNoData, n, f)
	}
	xm := mat.NewDense(n, f, x)
	ym := mat.NewDense(n, d, y)
	var ata mat.Dense
	ata.Mul(xm.T(), xm)
	for i := range f {
		ata.Set(i, i, ata.At(i, i)*(1+1e-9)+1e-9)
	}
	var aty mat.Dense
	aty.Mul(xm.T(), ym)
	var w mat.Dense
	if err := w.Solve(&ata, &aty); err != nil {
		var cond mat.Condition
		if !errors.As(err, &cond) {
			return nil, fmt.Errorf("%w: least squares: %v", ErrNoData, err)
		}
	}
	return w.RawMatrix().Data, nil
}

// fitProprioHead fits the head on every step of the tracks with two
// steps of history and returns it with its one-step RMS error.
func fitProprioHead(tracks []*track) (*proprioHead, float64, error) {
	if len(tracks) == 0 {
		return nil, 0, fmt.Errorf("%w: no tracks", ErrNoData)
	}
	h := &proprioHead{D: len(tracks[0].proprio[0]), A: len(tracks[0].actions[0])}
	f := 3*h.D + h.A + 1
	var xs, ys []float64
	n := 0
	var buf []float64
	for _, t := range tracks {
		for s := 2; s+1 < len(t.proprio); s++ {
			buf = h.features(buf, [3][]float32{t.proprio[s], t.proprio[s-1], t.proprio[s-2]}, t.actions[s])
			xs = append(xs, buf...)
			for j := range h.D {
				ys = append(ys, float64(t.proprio[s+1][j]-t.proprio[s][j]))
			}
			n++
		}
	}
	w, err := leastSquares(xs, ys, n, f, h.D)
	if err != nil {
		return nil, 0, fmt.Errorf("proprioception head: %w", err)
	}
	h.M = w
	var se float64
	for i := range n {
		for j := range h.D {
			p := 0.0
			for k := range f {
				p += xs[i*f+k] * w[k*h.D+j]
			}
			d := p - ys[i*h.D+j]
			se += d * d
		}
	}
	return h, math.Sqrt(se / float64(max(1, n*h.D))), nil
}

// effector is an object that moves with the robot: its position in the
// frame is linear in the proprioception, (x, y) = W . [p, 1] (the camera's
// view of the robot's own coordinates), and it keeps one turn (a robot
// whose visible part turns is not modelled yet).
type effector struct {
	W     []float64 // (D+1) x 2
	Angle float64
	RMS   float64 // of the fit, frame pixels
}

func (e *effector) pose(p []float32) Pose {
	d := len(p)
	x, y := e.W[2*d], e.W[2*d+1]
	for i, v := range p {
		x += float64(v) * e.W[2*i]
		y += float64(v) * e.W[2*i+1]
	}
	return Pose{x, y, e.Angle}
}

// fitEffector fits object k's position to the proprioception over every
// frame where it was read well (RMS at most good).
func fitEffector(tracks []*track, k int, good float64) (*effector, error) {
	var xs, ys []float64
	var turns [180]int // 2-degree bins of the fitted turn
	n := 0
	d := len(tracks[0].proprio[0])
	for _, t := range tracks {
		for s, p := range t.proprio {
			if float64(t.rms[s][k]) > good {
				continue
			}
			for _, v := range p {
				xs = append(xs, float64(v))
			}
			xs = append(xs, 1)
			ps := t.poses[s][k]
			ys = append(ys, float64(ps.X), float64(ps.Y))
			b := int(math.Floor(math.Mod(ps.A, 2*math.Pi)/(2*math.Pi)*180+180)) % 180
			turns[b]++
			n++
		}
	}
	w, err := leastSquares(xs, ys, n, d+1, 2)
	if err != nil {
		return nil, err
	}
	// The most frequent turn, not the mean: a symmetric effector (a disc, a
	// square) fits equally well at several turns, and their mean would
	// draw it turned wrong.
	best := 0
	for b, c := range turns {
		if c > turns[best] {
			best = b
		}
	}
	e := &effector{W: w, Angle: (float64(best) + 0.5) * 2 * math.Pi / 180}
	var se float64
	for i := range n {
		pose := e.pose(toF32(xs[i*(d+1) : i*(d+1)+d]))
		se += (pose.X-ys[2*i])*(pose.X-ys[2*i]) + (pose.Y-ys[2*i+1])*(pose.Y-ys[2*i+1])
	}
	e.RMS = math.Sqrt(se / float64(n))
	return e, nil
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
