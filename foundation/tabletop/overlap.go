package tabletop

// OverlapArea is the area shared by two convex quadrilaterals (vertices in
// either orientation), exact up to rounding: a is clipped by each edge of b
// (Sutherland–Hodgman) and the result measured by the shoelace formula. It
// allocates nothing, so coverage can be computed in planners' inner loops.
func OverlapArea(a, b *[4]Vec2) float64 {
	var bufA, bufB [maxClip]Vec2
	in, out := bufA[:0], bufB[:0]
	in = append(in, a[:]...)
	orient := 1.0
	if SignedArea(b[:]) < 0 {
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
	a2 := SignedArea(in)
	if a2 < 0 {
		a2 = -a2
	}
	return a2
}

// maxClip bounds the vertices of a quadrilateral clipped by another one.
const maxClip = 12

// side is the cross product (q-p) x (r-p): positive when r is to the left.
func side(p, q, r Vec2) float64 {
	return (q.X-p.X)*(r.Y-p.Y) - (q.Y-p.Y)*(r.X-p.X)
}

// SignedArea is the shoelace area of a polygon, positive for
// counter-clockwise order in x-right/y-up coordinates.
func SignedArea(poly []Vec2) float64 {
	var s float64
	for i := range poly {
		p, q := poly[i], poly[(i+1)%len(poly)]
		s += p.X*q.Y - q.X*p.Y
	}
	return s / 2
}
