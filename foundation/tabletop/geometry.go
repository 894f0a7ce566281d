package tabletop

import "math"

// Vec2 is a point or vector in table pixels (x right, y down).
type Vec2 struct{ X, Y float64 }

// Pose is a rigid pose: the body origin (not the centre of gravity) and the
// angle in radians. It is the dataset's convention for the block.
type Pose struct{ X, Y, Angle float64 }

// Apply maps a body-local point to the world.
func (p Pose) Apply(v Vec2) Vec2 {
	s, c := math.Sincos(p.Angle)
	return Vec2{p.X + c*v.X - s*v.Y, p.Y + s*v.X + c*v.Y}
}

// Table and pusher geometry of the PushT reference environment.
const (
	WorldSize   = 512  // table side in pixels
	AgentRadius = 15.0 // pusher radius
	WallRadius  = 2.0  // half the walls' thickness
)

// Walls are the four static segments, in the order the reference adds them.
var Walls = [4][2]Vec2{
	{{5, 506}, {5, 5}},
	{{5, 5}, {506, 5}},
	{{506, 5}, {506, 506}},
	{{5, 506}, {506, 506}},
}

// PyMod is Python's float modulo (the result takes the divisor's sign), used
// for the dataset's block_angle % (2*pi).
func PyMod(a, m float64) float64 {
	r := math.Mod(a, m)
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}
