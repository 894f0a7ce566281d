package pusht

import (
	"math"

	"dreamrank/foundation/tabletop"
)

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

// Table and robot geometry of the reference environment.
const (
	WorldSize   = tabletop.WorldSize   // table side in pixels
	AgentRadius = tabletop.AgentRadius // pusher radius
	wallRadius  = tabletop.WallRadius
	teeArea     = 120*30 + 30*90 // bar + stem, 6300 px^2
)

// MaxSteps is the reference episode length in control steps.
const MaxSteps = 300

// SuccessCoverage is the coverage above which an episode succeeds.
const SuccessCoverage = 0.95

// Goal is the target pose of the block's origin.
var Goal = Pose{256, 256, math.Pi / 4}

// The T is two rectangles in body coordinates (scale 30): a 120x30 bar on
// top of the origin and a 30x90 stem below it. They only share an edge, so
// areas and intersections can be summed per rectangle.
var (
	barLocal  = [4]Vec2{{-60, 30}, {60, 30}, {60, 0}, {-60, 0}}
	stemLocal = [4]Vec2{{-15, 30}, {-15, 120}, {15, 120}, {15, 30}}
	teeLocal  = [2][4]Vec2{barLocal, stemLocal}
)

// blockCoG is the block's centre of gravity in body coordinates: the plain
// mean of the two rectangle centroids (0,15) and (0,75), as the reference sets it.
var blockCoG = Vec2{0, 45}

// walls are the four static segments, in the order the reference adds them.
var walls = func() (out [4][2]Vec2) {
	for i, w := range tabletop.Walls {
		out[i] = [2]Vec2{Vec2(w[0]), Vec2(w[1])}
	}
	return out
}()

// wrapAngle maps an angle to [-pi, pi].
func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

// The table's own vector and state types have the same layout as PushT's;
// these convert at the boundary (free, and exact).
func tv(v Vec2) tabletop.Vec2 { return tabletop.Vec2(v) }

func toTable(s State) tabletop.State {
	return tabletop.State{Agent: tv(s.Agent), AgentVel: tv(s.AgentVel), Block: tabletop.Pose(s.Block)}
}

func fromTable(s tabletop.State) State {
	return State{Agent: Vec2(s.Agent), AgentVel: Vec2(s.AgentVel), Block: Pose(s.Block)}
}
