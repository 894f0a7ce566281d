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

// agentRadius is the pusher's radius (both scenes).
const agentRadius = 15.0

// pose is a rigid transform of the block: body origin and angle.
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

// wrapAngle maps an angle to (-pi, pi].
func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a <= 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
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
