package slots

import "math"

// room is where objects have been seen: the pixels some object's footprint
// covered in some training frame. Walls, table edges and anything else
// that stops objects are never covered, so an imagined object may not be
// moved onto a pixel outside the room (the dynamics network, trained on
// contacts with the robot only, knows nothing of them).
type room struct {
	w, h    int
	allowed []float32 // 1 where an object has been
}

// learnRoom marks every pixel under an object's footprint in every
// stride-th frame of the tracks where that object was fitted well.
func learnRoom(sc *Scene, tracks []*track, refit float64, stride int) []float32 {
	allowed := make([]float32, sc.H*sc.W)
	pts := make([][][2]float64, len(sc.Sprites))
	for k, s := range sc.Sprites {
		pts[k] = thinPoints(s.footprint())
	}
	for _, t := range tracks {
		for i := 0; i < len(t.poses); i += stride {
			for k, p := range t.poses[i] {
				if float64(t.rms[i][k]) > refit {
					continue
				}
				for _, q := range pts[k] {
					x, y := p.world(q[0], q[1])
					xi, yi := int(math.Floor(x)), int(math.Floor(y))
					if xi >= 0 && yi >= 0 && xi < sc.W && yi < sc.H {
						allowed[yi*sc.W+xi] = 1
					}
				}
			}
		}
	}
	return allowed
}

// thinPoints keeps one footprint cell per pixel, so marking and checking
// cost per pixel, not per cell.
func thinPoints(fp [][2]float64) [][2]float64 {
	seen := map[[2]int]bool{}
	var out [][2]float64
	for _, p := range fp {
		key := [2]int{int(math.Floor(p[0])), int(math.Floor(p[1]))}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	return out
}

// fits reports whether the points (an object's footprint, in its frame)
// at pose p all lie in the room.
func (r *room) fits(pts [][2]float64, p Pose) bool {
	sn, cs := math.Sincos(p.A)
	for _, q := range pts {
		x, y := p.X+cs*q[0]-sn*q[1], p.Y+sn*q[0]+cs*q[1]
		xi, yi := int(math.Floor(x)), int(math.Floor(y))
		if xi < 0 || yi < 0 || xi >= r.w || yi >= r.h || r.allowed[yi*r.w+xi] == 0 {
			return false
		}
	}
	return true
}

// constrain returns the pose an object reaches moving from a towards b
// without leaving the room: b when it fits (or when a did not fit to begin
// with: the room does not hold the object back from where it was seen),
// else the farthest fraction of the move that fits (bisection).
func (r *room) constrain(pts [][2]float64, a, b Pose) Pose {
	if r == nil || r.fits(pts, b) || !r.fits(pts, a) {
		return b
	}
	lo, hi := 0.0, 1.0
	for range roomBisections {
		mid := (lo + hi) / 2
		if r.fits(pts, lerp(a, b, mid)) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lerp(a, b, lo)
}

// roomBisections is how many times constrain halves the move that fits.
const roomBisections = 6

func lerp(a, b Pose, f float64) Pose {
	return Pose{a.X + f*(b.X-a.X), a.Y + f*(b.Y-a.Y), a.A + f*(b.A-a.A)}
}
