package pusht

// Coverage is the fraction of the goal T's area covered by the block T at
// pose block: area(goal ∩ block) / area(goal). Each T is the union of two
// convex rectangles whose interiors are disjoint, so the intersection area is
// the sum of the four rectangle-rectangle intersections, each exact by convex
// clipping. It allocates nothing.
func Coverage(block Pose) float64 {
	var goalW, blockW [2][4]Vec2
	for i := range teeLocal {
		for j, v := range teeLocal[i] {
			goalW[i][j] = Goal.Apply(v)
			blockW[i][j] = block.Apply(v)
		}
	}
	var inter float64
	for i := range goalW {
		for j := range blockW {
			inter += convexIntersectionArea(&goalW[i], &blockW[j])
		}
	}
	return inter / teeArea
}

// maxClip bounds the vertices of a quadrilateral clipped by another one.
const maxClip = 12

// convexIntersectionArea clips quadrilateral a by quadrilateral b
// (Sutherland–Hodgman, one half-plane per edge of b) and returns the area.
func convexIntersectionArea(a, b *[4]Vec2) float64 {
	var bufA, bufB [maxClip]Vec2
	in, out := bufA[:0], bufB[:0]
	in = append(in, a[:]...)
	orient := 1.0
	if signedArea(b[:]) < 0 {
		orient = -1
	}
	for k := 0; k < 4 && len(in) > 0; k++ {
		p, q := b[k], b[(k+1)%4]
		out = out[:0]
		for i := range in {
			cur, nxt := in[i], in[(i+1)%len(in)]
			dc := orient * side(p, q, cur)
			dn := orient * side(p, q, nxt)
			if dc >= 0 {
				out = append(out, cur)
			}
			if (dc >= 0) != (dn >= 0) {
				t := dc / (dc - dn)
				out = append(out, Vec2{cur.X + t*(nxt.X-cur.X), cur.Y + t*(nxt.Y-cur.Y)})
			}
		}
		in, out = out, in
	}
	if len(in) < 3 {
		return 0
	}
	a2 := signedArea(in)
	if a2 < 0 {
		a2 = -a2
	}
	return a2
}

// side is the cross product (q-p) x (r-p): positive when r is to the left.
func side(p, q, r Vec2) float64 {
	return (q.X-p.X)*(r.Y-p.Y) - (q.Y-p.Y)*(r.X-p.X)
}

// signedArea is the shoelace area, positive for counter-clockwise order in
// x-right/y-up coordinates.
func signedArea(poly []Vec2) float64 {
	var s float64
	for i := range poly {
		p, q := poly[i], poly[(i+1)%len(poly)]
		s += p.X*q.Y - q.X*p.Y
	}
	return s / 2
}
