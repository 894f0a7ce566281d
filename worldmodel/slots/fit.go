package slots

import (
	"errors"
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// fitter reads object poses from a frame by analysis by synthesis: it
// renders the scene at candidate poses and moves each object's pose
// (Levenberg-Marquardt, finite-difference Jacobian) until the rendering
// matches the frame around that object. Objects drawn over others are part
// of every rendering, so an object partly hidden by another is still fitted
// by what shows of it. A fitter is not safe for concurrent use.
type fitter struct {
	sc       *Scene
	colours  [][]float64 // each sprite's mean colour, for first guesses
	thresh   float64     // grey levels: a pixel shows an object (first guesses)
	refit    float64     // RMS grey levels: a worse fit is searched for afresh
	obs, buf []float32
	r0, r1   []float64
	jac      [3][]float64
}

func newFitter(sc *Scene, colours [][]float64, cfg SceneConfig) *fitter {
	n := sc.H * sc.W * sc.C
	return &fitter{sc: sc, colours: colours, thresh: cfg.DiffThreshold, refit: cfg.Refit, obs: make([]float32, n), buf: make([]float32, n)}
}

func (f *fitter) setFrame(frame []uint8) {
	for i, v := range frame {
		f.obs[i] = float32(v)
	}
}

// residuals renders poses over reg and writes rendered minus observed into
// dst, returning the sum of squares.
func (f *fitter) residuals(dst []float64, poses []Pose, reg region) ([]float64, float64) {
	f.sc.renderInto(f.buf, poses, reg)
	dst = dst[:0]
	var ss float64
	c := f.sc.C
	for y := reg.y0; y < reg.y1; y++ {
		row := (y*f.sc.W + reg.x0) * c
		for i := row; i < row+(reg.x1-reg.x0)*c; i++ {
			d := float64(f.buf[i] - f.obs[i])
			dst = append(dst, d)
			ss += d * d
		}
	}
	return dst, ss
}

// fitSteps are the finite-difference steps of x, y (pixels) and angle.
var fitSteps = [3]float64{0.2, 0.2, 0.01}

// refine moves object k's pose (the others held) for at most iters
// Levenberg-Marquardt iterations and returns the RMS residual (grey
// levels) over the object's neighbourhood.
func (f *fitter) refine(poses []Pose, k, iters int) float64 {
	s := f.sc.Sprites[k]
	reg := f.sc.bounds(s, poses[k])
	var ss float64
	f.r0, ss = f.residuals(f.r0, poses, reg)
	lambda := 1e-3
	for range iters {
		base := poses[k]
		for j := range 3 {
			p := base
			switch j {
			case 0:
				p.X += fitSteps[0]
			case 1:
				p.Y += fitSteps[1]
			case 2:
				p.A += fitSteps[2]
			}
			poses[k] = p
			f.r1, _ = f.residuals(f.r1, poses, reg)
			f.jac[j] = f.jac[j][:0]
			for i, v := range f.r1 {
				f.jac[j] = append(f.jac[j], (v-f.r0[i])/fitSteps[j])
			}
		}
		poses[k] = base
		var a [3][3]float64
		var g [3]float64
		for i, r := range f.r0 {
			for p := range 3 {
				jp := f.jac[p][i]
				g[p] += jp * r
				for q := p; q < 3; q++ {
					a[p][q] += jp * f.jac[q][i]
				}
			}
		}
		improved := false
		for range 4 {
			var m [3][3]float64
			var b [3]float64
			for p := range 3 {
				for q := p; q < 3; q++ {
					m[p][q], m[q][p] = a[p][q], a[p][q]
				}
				m[p][p] += lambda*a[p][p] + 1e-6
				b[p] = -g[p]
			}
			d, ok := solve3(m, b)
			if !ok {
				break
			}
			poses[k] = Pose{base.X + d[0], base.Y + d[1], base.A + d[2]}
			if !f.inView(s, poses[k]) {
				poses[k] = base
				lambda *= 8
				continue
			}
			r, ss1 := f.residuals(f.r1, poses, reg)
			if ss1 < ss {
				f.r0, f.r1 = r, f.r0
				ss = ss1
				lambda = math.Max(lambda/4, 1e-6)
				improved = true
				if math.Abs(d[0])+math.Abs(d[1]) < 1e-3 && math.Abs(d[2]) < 1e-4 {
					iters = 0
				}
				break
			}
			f.r1 = r
			poses[k] = base
			lambda *= 8
		}
		if !improved {
			break
		}
	}
	return math.Sqrt(ss / float64(max(1, len(f.r0))))
}

// inView reports whether an object at p would still show in the frame:
// a fit that wanders off it has lost the object.
func (f *fitter) inView(s *Sprite, p Pose) bool {
	r := s.reachOf()
	return p.X > -r && p.Y > -r && p.X < float64(f.sc.W)+r && p.Y < float64(f.sc.H)+r
}

// guess places object k from the pixels whose colour is nearer its colour
// than any other object's and the background's: the moments of their
// coverage give the position and the candidate angles.
func (f *fitter) guess(frame []uint8, k int) []Pose {
	sc := f.sc
	c := sc.C
	var pix []int
	for p := range sc.H * sc.W {
		o := frame[p*c : p*c+c]
		var dbg float64
		for j := range c {
			dbg = math.Max(dbg, math.Abs(float64(o[j])-float64(sc.Background[p*c+j])))
		}
		if dbg < f.thresh {
			continue
		}
		best, bd := -1, math.Inf(1)
		for j, col := range f.colours {
			var s float64
			for q := range c {
				s += (float64(o[q]) - col[q]) * (float64(o[q]) - col[q])
			}
			if s < bd {
				best, bd = j, s
			}
		}
		if best == k {
			pix = append(pix, p)
		}
	}
	p, ratio, ok := momentPose(frame, sc.Background, pix, sc.W, c, f.colours[k])
	if !ok {
		return nil
	}
	// The moments' angle (and its opposite) first, then a grid of turns:
	// when the object is partly hidden or lies over a background of
	// another colour the moments can be far off, and the fit then stops in
	// a wrong minimum.
	out := []Pose{p, {p.X, p.Y, p.A + math.Pi}}
	if ratio < 1.3 {
		out = out[:0]
	}
	for i := range guessTurns {
		out = append(out, Pose{p.X, p.Y, p.A + float64(i)*2*math.Pi/guessTurns})
	}
	return out
}

// guessTurns is how many turns a fresh search tries besides the moments'.
const guessTurns = 24

// fit reads every object's pose from frame. With prev (the poses read
// from the previous frame of the same episode) it starts from there and
// falls back to fresh guesses for objects it then fits badly (RMS above
// f.refit). It returns the poses and each object's RMS residual.
func (f *fitter) fit(frame []uint8, prev []Pose) ([]Pose, []float64) {
	f.setFrame(frame)
	n := len(f.sc.Sprites)
	poses := make([]Pose, n)
	rms := make([]float64, n)
	if prev != nil {
		copy(poses, prev)
	} else {
		for k := range n {
			if g := f.guess(frame, k); len(g) > 0 {
				poses[k] = g[0]
			}
		}
		// Every candidate of every object, once the others have a place.
		for k := range n {
			rms[k] = f.retry(frame, poses, k, math.Inf(1))
		}
	}
	for sweep := range 2 {
		for k := range n {
			rms[k] = f.refine(poses, k, 6)
			if rms[k] > f.refit && sweep == 1 {
				rms[k] = f.retry(frame, poses, k, rms[k])
			}
		}
	}
	return poses, rms
}

// retry fits object k from each fresh guess and keeps the best: every
// guess gets a few iterations, the three best are fitted to the end (a
// fit converges only from within some degrees of the right turn, so the
// guesses are many and cheap).
func (f *fitter) retry(frame []uint8, poses []Pose, k int, best float64) float64 {
	keep := poses[k]
	type cand struct {
		p   Pose
		rms float64
	}
	var cs []cand
	for _, g := range f.guess(frame, k) {
		poses[k] = g
		r := f.refine(poses, k, 3)
		cs = append(cs, cand{poses[k], r})
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].rms < cs[j].rms })
	for _, c := range cs[:min(3, len(cs))] {
		poses[k] = c.p
		if r := f.refine(poses, k, 12); r < best {
			best, keep = r, poses[k]
		}
	}
	poses[k] = keep
	return best
}

// solve3 solves a 3x3 system (false when it is singular).
func solve3(a [3][3]float64, b [3]float64) ([3]float64, bool) {
	m := mat.NewDense(3, 3, []float64{a[0][0], a[0][1], a[0][2], a[1][0], a[1][1], a[1][2], a[2][0], a[2][1], a[2][2]})
	var x mat.VecDense
	if err := x.SolveVec(m, mat.NewVecDense(3, b[:])); err != nil {
		// An ill-conditioned system (a disc's turn) still has a usable
		// solution; only a singular one does not.
		var cond mat.Condition
		if !errors.As(err, &cond) {
			return [3]float64{}, false
		}
	}
	out := [3]float64{x.AtVec(0), x.AtVec(1), x.AtVec(2)}
	for _, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return [3]float64{}, false
		}
	}
	return out, true
}
