package expert

import "math"

// body is the pushed block's geometry as the planner sees it, in the body
// frame: the outline it pushes on and routes around, the rectangles that
// make it up, and the inertia the push predictor and the pose error use.
// The planner is the same for every block; only this changes.
type body struct {
	outline []v2         // closed outline; either turning sense
	rects   [][4]float64 // axis-aligned parts: min x, min y, max x, max y
	cog     v2           // centre of gravity, the point it turns about
	// gyration2 is the polar second moment of area about the CoG over the
	// area (px^2). With it, an angle error dth costs as much as moving
	// every point of the block by its arc length, which makes position and
	// angle errors commensurable.
	gyration2    float64
	mass, moment float64 // as the simulator has them
	sign         float64 // outward-normal sign of the outline (see edgeNormal)
	nodes        []v2    // route graph nodes (see route.go)
}

func newBody(outline []v2, rects [][4]float64, cog v2, gyration2, mass, moment float64) *body {
	b := &body{outline: outline, rects: rects, cog: cog, gyration2: gyration2, mass: mass, moment: moment}
	area := 0.0
	for i := range outline {
		area += outline[i].cross(outline[(i+1)%len(outline)])
	}
	// For a positive (counter-clockwise) signed area the outward normal of
	// edge direction d is (d.y, -d.x).
	b.sign = -1
	if area > 0 {
		b.sign = 1
	}
	b.nodes = b.routeNodes()
	return b
}

// tOutline is the T's outline in the body frame, counter-clockwise in the
// math sense (x right, y down still gives a consistent orientation).
var tOutline = [8]v2{
	{-60, 0}, {60, 0}, {60, 30}, {15, 30}, {15, 120}, {-15, 120}, {-15, 30}, {-60, 30},
}

// tCoG is the centre of gravity used by the reference (mean of the two
// rectangle centroids), the point the block rotates about when pushed.
var tCoG = v2{0, 45}

// teeBody is PushT's T (scale 30): bar and stem, the reference's inertia
// (mass 1, moment 3000 px^2 with its doubled bar moment) and a radius of
// gyration from the T's true second moment of area (1950 px^2).
var teeBody = newBody(tOutline[:], [][4]float64{{-60, 0, 60, 30}, {-15, 30, 15, 120}}, tCoG, 1950, 1, 3000)

// cogOf is the block's centre of gravity in the world at pose q.
func (b *body) cogOf(q pose) v2 { return q.toWorld(b.cog) }

// poseError measures how far q is from goal (px^2): the squared CoG offset
// plus the squared arc length the block's points travel when turned by the
// angle error. It is smooth and informative far from the goal where
// coverage is 0. The angle term uses the angle itself rather than the chord
// (1 - cos), which is flat near a half turn and would leave an upside-down
// block without any incentive to turn.
func (b *body) poseError(q, goal pose) float64 {
	d := b.cogOf(q).sub(b.cogOf(goal))
	dth := wrapAngle(q.angle - goal.angle)
	return d.dot(d) + b.gyration2*dth*dth
}

// inside reports whether a body-frame point lies inside the block.
func (b *body) inside(p v2) bool {
	for _, r := range b.rects {
		if p.x >= r[0] && p.x <= r[2] && p.y >= r[1] && p.y <= r[3] {
			return true
		}
	}
	return false
}

// dist is the distance from a body-frame point to the block (0 inside).
func (b *body) dist(p v2) float64 {
	if b.inside(p) {
		return 0
	}
	best := math.Inf(1)
	for i := range b.outline {
		d := segPointDist2(p, b.outline[i], b.outline[(i+1)%len(b.outline)])
		best = math.Min(best, d)
	}
	return math.Sqrt(best)
}

// segDist is the smallest distance between body-frame segment pq and the
// block.
func (b *body) segDist(p, q v2) float64 {
	if b.inside(p) || b.inside(q) {
		return 0
	}
	best := math.Inf(1)
	for i := range b.outline {
		c, d := b.outline[i], b.outline[(i+1)%len(b.outline)]
		if segsIntersect(p, q, c, d) {
			return 0
		}
		best = math.Min(best, segPointDist2(p, c, d))
		best = math.Min(best, segPointDist2(q, c, d))
		best = math.Min(best, segPointDist2(c, p, q))
		best = math.Min(best, segPointDist2(d, p, q))
	}
	return math.Sqrt(best)
}

// nearest returns the closest outline point to a body-frame point outside
// the block and the outward unit normal there (pointing from the block to p).
func (b *body) nearest(p v2) (v2, v2) {
	best, bestQ := math.Inf(1), v2{}
	for i := range b.outline {
		a, c := b.outline[i], b.outline[(i+1)%len(b.outline)]
		ac := c.sub(a)
		t := math.Max(0, math.Min(1, p.sub(a).dot(ac)/ac.dot(ac)))
		q := a.add(ac.mul(t))
		if d := p.dist(q); d < best {
			best, bestQ = d, q
		}
	}
	return bestQ, p.sub(bestQ).unit()
}

// edgeNormal is the outward unit normal of outline edge i (from vertex i to
// i+1): the edge direction turned by -90 degrees for a counter-clockwise
// outline, the other way for a clockwise one.
func (b *body) edgeNormal(i int) v2 {
	a, c := b.outline[i], b.outline[(i+1)%len(b.outline)]
	d := c.sub(a).unit()
	return v2{d.y, -d.x}.mul(b.sign)
}

// convexVertex reports whether outline vertex i is convex (the agent can
// push on it from a cone of directions); inner corners are not.
func (b *body) convexVertex(i int) bool {
	n := len(b.outline)
	a, c, d := b.outline[(i+n-1)%n], b.outline[i], b.outline[(i+1)%n]
	return c.sub(a).cross(d.sub(c))*b.sign > 0
}
