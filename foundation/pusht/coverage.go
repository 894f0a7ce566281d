package pusht

import "dreamrank/foundation/tabletop"

// Coverage is the fraction of the goal T's area covered by the block T at
// pose block: area(goal ∩ block) / area(goal). Each T is the union of two
// convex rectangles whose interiors are disjoint, so the intersection area is
// the sum of the four rectangle-rectangle intersections, each exact by convex
// clipping. It allocates nothing.
func Coverage(block Pose) float64 {
	var goalW, blockW [2][4]tabletop.Vec2
	for i := range teeLocal {
		for j, v := range teeLocal[i] {
			goalW[i][j] = tv(Goal.Apply(v))
			blockW[i][j] = tv(block.Apply(v))
		}
	}
	var inter float64
	for i := range goalW {
		for j := range blockW {
			inter += tabletop.OverlapArea(&goalW[i], &blockW[j])
		}
	}
	return inter / teeArea
}
