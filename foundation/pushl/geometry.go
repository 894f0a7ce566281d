package pushl

import (
	"math"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/tabletop"
)

// The L in body coordinates, origin at its centre of gravity: a 120x30 bar
// (centroid (-15,-15)) and a 30x60 leg under its right end (centroid
// (30,30)); their area-weighted centroid is the origin. The parts share an
// edge only, so areas and overlaps add per part.
var (
	barLocal = [4]pusht.Vec2{{X: -75, Y: -30}, {X: 45, Y: -30}, {X: 45, Y: 0}, {X: -75, Y: 0}}
	legLocal = [4]pusht.Vec2{{X: 15, Y: 0}, {X: 45, Y: 0}, {X: 45, Y: 60}, {X: 15, Y: 60}}
	// Parts are the L's two rectangles in body coordinates (counter-
	// clockwise on screen), for planners and tests.
	Parts = [2][4]pusht.Vec2{barLocal, legLocal}
)

// Outline is the L's boundary in body coordinates, in the same turning
// sense as Parts; vertex 4 is the inner (concave) corner.
var Outline = [6]pusht.Vec2{
	{X: -75, Y: -30}, {X: 45, Y: -30}, {X: 45, Y: 60}, {X: 15, Y: 60}, {X: 15, Y: 0}, {X: -75, Y: 0},
}

const (
	barArea = 120 * 30
	legArea = 30 * 60
	// Area is the L's area in px^2.
	Area = barArea + legArea
	// Gyration2 is the L's polar second moment of area about its centre of
	// gravity over its area (px^2): its moment of inertia at mass 1.
	Gyration2 = 1875.0
	blockMass = 1.0
)

// Goal is the target pose of the block (its CoG and angle): near the
// table's centre, turned -60 degrees; PushT's goal is the T at (256,256)
// turned +45 degrees.
var Goal = pusht.Pose{X: 256, Y: 256, Angle: -math.Pi / 3}

// SuccessCoverage, MaxSteps and ObsSize are PushT's.
const (
	SuccessCoverage = pusht.SuccessCoverage
	MaxSteps        = pusht.MaxSteps
	ObsSize         = pusht.ObsSize
)

// layout puts the L on the table. Part masses proportional to area put
// Chipmunk's centre of gravity on the origin; the moment is left for
// Chipmunk to derive from the parts (Gyration2 at mass 1).
var layout = tabletop.Layout{
	Parts:      tableParts(Parts),
	PartMass:   [2]float64{blockMass * barArea / Area, blockMass * legArea / Area},
	BlockStart: tabletop.Pose{X: 256, Y: 300},
	AgentStart: tabletop.Vec2{X: 256, Y: 400},
}

func tableParts(parts [2][4]pusht.Vec2) (out [2][4]tabletop.Vec2) {
	for i, p := range parts {
		for j, v := range p {
			out[i][j] = tabletop.Vec2(v)
		}
	}
	return out
}

// Coverage is the fraction of the target L's area covered by the block L
// at pose block: the sum of the four part-part overlaps over the area.
func Coverage(block pusht.Pose) float64 {
	var goalW, blockW [2][4]tabletop.Vec2
	for i := range Parts {
		for j, v := range Parts[i] {
			goalW[i][j] = tabletop.Vec2(Goal.Apply(v))
			blockW[i][j] = tabletop.Vec2(block.Apply(v))
		}
	}
	var inter float64
	for i := range goalW {
		for j := range blockW {
			inter += tabletop.OverlapArea(&goalW[i], &blockW[j])
		}
	}
	return inter / Area
}

// Outcome scores a block pose as PushT does: coverage, reward
// coverage/0.95 clipped to [0,1], success above 0.95.
func Outcome(block pusht.Pose) pusht.StepInfo {
	c := Coverage(block)
	return pusht.StepInfo{
		Coverage: c,
		Reward:   math.Min(math.Max(c/SuccessCoverage, 0), 1),
		Success:  c > SuccessCoverage,
	}
}
