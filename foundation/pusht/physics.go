package pusht

import (
	"github.com/jakecoffman/cp/v2"

	"dreamrank/foundation/tabletop"
)

// Reference block inertia (pusht_env.py).
const (
	blockMass = 1.0
	// blockMoment is twice the bar's moment about the body origin: the
	// reference sums moment_for_poly(1, bar) twice (a bug we keep).
	blockMoment = 3000.0
)

// teeLayout is the reference scene on the table: the T as bar then stem
// (the reference's insertion order), each of half the mass so that
// Chipmunk puts the centre of gravity at the mean of the two centroids,
// (0,45), which is exactly what the reference assigns; the reference
// moment; and the pre-reset poses (pusher at (256,400), block at (256,300)
// with angle 0).
var teeLayout = tabletop.Layout{
	Parts:      tableParts(teeLocal),
	PartMass:   [2]float64{blockMass / 2, blockMass / 2},
	Moment:     blockMoment,
	BlockStart: tabletop.Pose{X: 256, Y: 300},
	AgentStart: tabletop.Vec2{X: 256, Y: 400},
}

func tableParts(parts [2][4]Vec2) (out [2][4]tabletop.Vec2) {
	for i, p := range parts {
		for j, v := range p {
			out[i][j] = tv(v)
		}
	}
	return out
}

func cpv(v Vec2) cp.Vector { return cp.Vector{X: v.X, Y: v.Y} }

func vec(v cp.Vector) Vec2 { return Vec2{v.X, v.Y} }
