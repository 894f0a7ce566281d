package expert

import "math"

// v2 is the planner's own vector type; it keeps the geometry independent of
// the simulator's API and gives it the few methods the planner needs.
type v2 struct{ x, y float64 }

func (a v2) add(b v2) v2             { return v2{a.x + b.x, a.y + b.y} }
func (a v2) sub(b v2) v2             { return v2{a.x - b.x, a.y - b.y} }
func (a v2) mul(s float64) v2        { return v2{a.x * s, a.y * s} }
func (a v2) dot(b v2) float64        { return a.x*b.x + a.y*b.y }
func (a v2) cross(b v2) float64      { return a.x*b.y - a.y*b.x }
func (a v2) norm() float64           { return math.Hypot(a.x, a.y) }
func (a v2) rot(c, s float64) v2     { return v2{c*a.x - s*a.y, s*a.x + c*a.y} }
func (a v2) perp() v2                { return v2{-a.y, a.x} }
func (a v2) dist(b v2) float64       { return a.sub(b).norm() }
func (a v2) lerp(b v2, t float64) v2 { return a.add(b.sub(a).mul(t)) }

func (a v2) unit() v2 {
	n := a.norm()
	if n < 1e-12 {
		return v2{}
	}
	return a.mul(1 / n)
}

func fromAngle(th float64) v2 { return v2{math.Cos(th), math.Sin(th)} }

// Shape constants of the reference T (body frame, scale 30) and the agent.
const (
	agentRadius = 15.0
	// gyration2 is the T's polar second moment of area about its centre of
	// gravity divided by its area (px^2). With it, an angle error dth costs
	// as much as moving every point of the T by its arc length, which makes
	// position and angle errors commensurable.
	gyration2 = 1950.0
)

// tOutline is the T's outline in the body frame, counter-clockwise in the
// math sense (x right, y down still gives a consistent orientation).
var tOutline = [8]v2{
	{-60, 0}, {60, 0}, {60, 30}, {15, 30}, {15, 120}, {-15, 120}, {-15, 30}, {-60, 30},
}

// tCoG is the centre of gravity used by the reference (mean of the two
// rectangle centroids), the point the block rotates about when pushed.
var tCoG = v2{0, 45}

// pose is a rigid transform of the T: body origin and angle.
type pose struct {
	p     v2
	angle float64
}

func (q pose) toWorld(local v2) v2 {
	c, s := math.Cos(q.angle), math.Sin(q.angle)
	return q.p.add(local.rot(c, s))
}

func (q pose) toLocal(world v2) v2 {
	c, s := math.Cos(q.angle), math.Sin(q.angle)
	return world.sub(q.p).rot(c, -s)
}

// dirToWorld rotates a body-frame direction into the world frame.
func (q pose) dirToWorld(d v2) v2 {
	return d.rot(math.Cos(q.angle), math.Sin(q.angle))
}

func (q pose) cog() v2 { return q.toWorld(tCoG) }

// wrapAngle maps an angle to (-pi, pi].
func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a <= 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

// poseError measures how far q is from goal (px^2): the squared CoG offset
// plus the squared arc length the T's points travel when turned by the angle
// error. It is smooth and informative far from the goal where coverage is 0.
// The angle term uses the angle itself rather than the chord (1 - cos), which
// is flat near a half turn and would leave an upside-down T without any
// incentive to turn.
func poseError(q, goal pose) float64 {
	d := q.cog().sub(goal.cog())
	dth := wrapAngle(q.angle - goal.angle)
	return d.dot(d) + gyration2*dth*dth
}

// segPointDist2 is the squared distance from p to segment ab.
func segPointDist2(p, a, b v2) float64 {
	ab := b.sub(a)
	l2 := ab.dot(ab)
	t := 0.0
	if l2 > 0 {
		t = math.Max(0, math.Min(1, p.sub(a).dot(ab)/l2))
	}
	d := p.sub(a.add(ab.mul(t)))
	return d.dot(d)
}

// segsIntersect reports whether segments ab and cd cross or touch.
func segsIntersect(a, b, c, d v2) bool {
	d1 := b.sub(a).cross(c.sub(a))
	d2 := b.sub(a).cross(d.sub(a))
	d3 := d.sub(c).cross(a.sub(c))
	d4 := d.sub(c).cross(b.sub(c))
	return ((d1 > 0) != (d2 > 0)) && ((d3 > 0) != (d4 > 0))
}

// insideT reports whether a body-frame point lies inside the T.
func insideT(p v2) bool {
	inBar := p.x >= -60 && p.x <= 60 && p.y >= 0 && p.y <= 30
	inStem := p.x >= -15 && p.x <= 15 && p.y >= 30 && p.y <= 120
	return inBar || inStem
}

// distT is the distance from a body-frame point to the T (0 inside).
func distT(p v2) float64 {
	if insideT(p) {
		return 0
	}
	best := math.Inf(1)
	for i := range tOutline {
		d := segPointDist2(p, tOutline[i], tOutline[(i+1)%len(tOutline)])
		best = math.Min(best, d)
	}
	return math.Sqrt(best)
}

// segDistT is the smallest distance between body-frame segment ab and the T.
func segDistT(a, b v2) float64 {
	if insideT(a) || insideT(b) {
		return 0
	}
	best := math.Inf(1)
	for i := range tOutline {
		c, d := tOutline[i], tOutline[(i+1)%len(tOutline)]
		if segsIntersect(a, b, c, d) {
			return 0
		}
		best = math.Min(best, segPointDist2(a, c, d))
		best = math.Min(best, segPointDist2(b, c, d))
		best = math.Min(best, segPointDist2(c, a, b))
		best = math.Min(best, segPointDist2(d, a, b))
	}
	return math.Sqrt(best)
}

// nearestOnT returns the closest outline point to a body-frame point outside
// the T and the outward unit normal there (pointing from the T to p).
func nearestOnT(p v2) (v2, v2) {
	best, bestQ := math.Inf(1), v2{}
	for i := range tOutline {
		a, b := tOutline[i], tOutline[(i+1)%len(tOutline)]
		ab := b.sub(a)
		t := math.Max(0, math.Min(1, p.sub(a).dot(ab)/ab.dot(ab)))
		q := a.add(ab.mul(t))
		if d := p.dist(q); d < best {
			best, bestQ = d, q
		}
	}
	return bestQ, p.sub(bestQ).unit()
}

// edgeNormal is the outward unit normal of outline edge i (from vertex i to
// i+1). The outline is counter-clockwise in x-right/y-down coordinates seen
// as a math frame, so the outward normal is the edge direction turned by -90
// degrees; outwardSign fixes this once from the signed area.
func edgeNormal(i int) v2 {
	a, b := tOutline[i], tOutline[(i+1)%len(tOutline)]
	d := b.sub(a).unit()
	return v2{d.y, -d.x}.mul(outwardSign)
}

var outwardSign = func() float64 {
	area := 0.0
	for i := range tOutline {
		area += tOutline[i].cross(tOutline[(i+1)%len(tOutline)])
	}
	// For a positive (counter-clockwise) signed area the outward normal of
	// edge direction d is (d.y, -d.x).
	if area > 0 {
		return 1
	}
	return -1
}()

// convexVertex reports whether outline vertex i is convex (the agent can push
// on it from a cone of directions); the two inner corners of the T are not.
func convexVertex(i int) bool {
	n := len(tOutline)
	a, b, c := tOutline[(i+n-1)%n], tOutline[i], tOutline[(i+1)%n]
	return b.sub(a).cross(c.sub(b))*outwardSign > 0
}
