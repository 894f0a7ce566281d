package slots

import "math"

// contactField is a passive object's distance field in its own frame: the
// distance (frame pixels) from a point to the nearest cell of the object's
// footprint, on a grid of one sample per pixel that reaches far enough
// that a point off the grid cannot be in contact.
type contactField struct {
	half int // the grid spans [-half, half] in x and y
	dist []float32
}

func newContactField(s *Sprite, reach float64) *contactField {
	fp := s.footprint()
	half := int(math.Ceil(s.reachOf() + reach + 1))
	side := 2*half + 1
	cf := &contactField{half: half, dist: make([]float32, side*side)}
	for gy := range side {
		for gx := range side {
			x, y := float64(gx-half), float64(gy-half)
			best := math.Inf(1)
			for _, p := range fp {
				best = math.Min(best, (p[0]-x)*(p[0]-x)+(p[1]-y)*(p[1]-y))
			}
			cf.dist[gy*side+gx] = float32(math.Sqrt(best))
		}
	}
	return cf
}

// at is the distance at a point of the object's frame (bilinear; off the
// grid: farther than anything on it).
func (cf *contactField) at(lx, ly float64) float64 {
	side := 2*cf.half + 1
	fx, fy := lx+float64(cf.half), ly+float64(cf.half)
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	if x0 < 0 || y0 < 0 || x0+1 >= side || y0+1 >= side {
		return math.Inf(1)
	}
	wx, wy := fx-float64(x0), fy-float64(y0)
	d := func(x, y int) float64 { return float64(cf.dist[y*side+x]) }
	return (1-wy)*((1-wx)*d(x0, y0)+wx*d(x0+1, y0)) + wy*((1-wx)*d(x0, y0+1)+wx*d(x0+1, y0+1))
}

// pathSamples is how many points of an effector's path a step checks for
// contact.
const pathSamples = 8

// mayTouch reports whether an effector of the given radius, moving from
// now to next (frame points), comes within margin of the object at pose p.
func (cf *contactField) mayTouch(p Pose, now, next [2]float64, radius, margin float64) bool {
	for k := 0; k <= pathSamples; k++ {
		f := float64(k) / pathSamples
		lx, ly := p.local(now[0]+f*(next[0]-now[0]), now[1]+f*(next[1]-now[1]))
		if cf.at(lx, ly) < radius+margin {
			return true
		}
	}
	return false
}

// footprintRadius is the distance from the origin to the farthest
// footprint cell: the radius of the disc that holds the object.
func footprintRadius(s *Sprite) float64 {
	r := 0.0
	for _, p := range s.footprint() {
		r = math.Max(r, math.Hypot(p[0], p[1]))
	}
	return r
}

// keypoints are up to n footprint points spread over the object (farthest
// point sampling from the point farthest from the origin): the training
// loss compares their positions, so shift and turn errors both count in
// pixels.
func keypoints(s *Sprite, n int) [][2]float64 {
	fp := s.footprint()
	if len(fp) == 0 {
		return [][2]float64{{0, 0}}
	}
	far := func(from [][2]float64) int {
		best, bd := 0, -1.0
		for i, p := range fp {
			d := math.Inf(1)
			for _, q := range from {
				d = math.Min(d, math.Hypot(p[0]-q[0], p[1]-q[1]))
			}
			if d > bd {
				best, bd = i, d
			}
		}
		return best
	}
	out := [][2]float64{fp[far([][2]float64{{0, 0}})]}
	for len(out) < n && len(out) < len(fp) {
		out = append(out, fp[far(out)])
	}
	return out
}
