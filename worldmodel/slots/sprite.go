package slots

import (
	"math"
)

// coverage is how much of a pixel an object of colour col covers, read as
// the projection of the pixel's departure from the background onto the
// object's: 0 on pure background, 1 on the object (and beyond, clamped:
// darker edges of the same hue count as covered).
func coverage(o []uint8, bg []float32, col []float64) float64 {
	var num, den float64
	for k, v := range col {
		d := v - float64(bg[k])
		num += (float64(o[k]) - float64(bg[k])) * d
		den += d * d
	}
	if den < 1 {
		return 0
	}
	return math.Min(1, math.Max(0, num/den))
}

// momentPose places an object by the moments of its coverage over pix:
// origin at the centroid, angle along the major axis, pointing to the side
// with the positive third moment, so an asymmetric shape reads the same
// way whatever its turn. ratio is the major over the minor second moment;
// near 1 the axis is not defined and the angle is left at 0.
func momentPose(frame []uint8, bg []float32, pix []int, w, c int, col []float64) (p Pose, ratio float64, ok bool) {
	var sw, sx, sy float64
	alpha := make([]float64, len(pix))
	for i, q := range pix {
		a := coverage(frame[q*c:], bg[q*c:], col)
		alpha[i] = a
		sw += a
		sx += a * (float64(q%w) + 0.5)
		sy += a * (float64(q/w) + 0.5)
	}
	if sw < 1 {
		return Pose{}, 0, false
	}
	p.X, p.Y = sx/sw, sy/sw
	var cxx, cyy, cxy float64
	for i, q := range pix {
		dx, dy := float64(q%w)+0.5-p.X, float64(q/w)+0.5-p.Y
		cxx += alpha[i] * dx * dx
		cyy += alpha[i] * dy * dy
		cxy += alpha[i] * dx * dy
	}
	tr, det := cxx+cyy, cxx*cyy-cxy*cxy
	disc := math.Sqrt(math.Max(0, tr*tr/4-det))
	l1, l2 := tr/2+disc, tr/2-disc
	ratio = l1 / math.Max(l2, 1e-9)
	if ratio < minAxisRatio {
		return p, ratio, true
	}
	p.A = 0.5 * math.Atan2(2*cxy, cxx-cyy)
	var m3 float64
	ux, uy := math.Cos(p.A), math.Sin(p.A)
	for i, q := range pix {
		u := (float64(q%w)+0.5-p.X)*ux + (float64(q/w)+0.5-p.Y)*uy
		m3 += alpha[i] * u * u * u
	}
	if m3 < 0 {
		p.A += math.Pi
	}
	return p, ratio, true
}

// minAxisRatio is the second-moment ratio below which a shape's axis is
// taken as undefined (a disc, a square).
const minAxisRatio = 1.1

// splat accumulates sightings of one object into a sprite: every pixel
// around a sighting, mapped by the sighting's pose into the object's frame,
// adds its coverage and premultiplied colour to the cells around it
// (bilinear weights).
type splat struct {
	side, scale int
	c           int
	w, a        []float64
	pm          []float64
}

func newSplat(side, scale, c int) *splat {
	n := side * side
	return &splat{side: side, scale: scale, c: c, w: make([]float64, n), a: make([]float64, n), pm: make([]float64, n*c)}
}

func (s *splat) add(frame []uint8, bg []float32, pix []int, w int, p Pose, col []float64) {
	c := s.c
	for _, q := range pix {
		lx, ly := p.local(float64(q%w)+0.5, float64(q/w)+0.5)
		fx, fy := gridPos(lx, ly, s.side, s.scale)
		x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
		wx, wy := fx-float64(x0), fy-float64(y0)
		a := coverage(frame[q*c:], bg[q*c:], col)
		for k := range 4 {
			x, y := x0+k%2, y0+k/2
			if x < 0 || y < 0 || x >= s.side || y >= s.side {
				continue
			}
			wt := cornerWeight(k, wx, wy)
			i := y*s.side + x
			s.w[i] += wt
			s.a[i] += wt * a
			for ch := range c {
				s.pm[i*c+ch] += wt * (float64(frame[q*c+ch]) - (1-a)*float64(bg[q*c+ch]))
			}
		}
	}
}

// sprite is the mean of what was splatted, by normalised convolution: the
// sums and the weights are both smoothed over about a quarter of a pixel
// before dividing, so cells that few sightings reached borrow from their
// neighbours instead of staying holes (a sprite full of holes has a fit
// landscape full of false minima). Cells nothing reached stay empty.
func (s *splat) sprite() *Sprite {
	n := s.side * s.side
	w, a := s.smooth(s.w, 1), s.smooth(s.a, 1)
	pm := s.smooth(s.pm, s.c)
	out := &Sprite{Side: s.side, Scale: s.scale, Alpha: make([]float32, n), Premul: make([]float32, n*s.c)}
	for i := range n {
		if w[i] < 0.05 {
			continue
		}
		al := a[i] / w[i]
		out.Alpha[i] = float32(al)
		for ch := range s.c {
			v := pm[i*s.c+ch] / w[i]
			out.Premul[i*s.c+ch] = float32(math.Max(0, math.Min(255*al, v)))
		}
	}
	return out
}

// smooth blurs a side x side grid of c-vectors with a separable Gaussian
// of sigma Scale/4 cells.
func (s *splat) smooth(v []float64, c int) []float64 {
	sigma := math.Max(0.5, float64(s.scale)/4)
	r := int(math.Ceil(2 * sigma))
	k := make([]float64, 2*r+1)
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
	}
	pass := func(src []float64, dx, dy int) []float64 {
		dst := make([]float64, len(src))
		for y := range s.side {
			for x := range s.side {
				for j, kv := range k {
					xx, yy := x+(j-r)*dx, y+(j-r)*dy
					if xx < 0 || yy < 0 || xx >= s.side || yy >= s.side {
						continue
					}
					for ch := range c {
						dst[(y*s.side+x)*c+ch] += kv * src[(yy*s.side+xx)*c+ch]
					}
				}
			}
		}
		return dst
	}
	return pass(pass(v, 1, 0), 0, 1)
}
