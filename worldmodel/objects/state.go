package objects

import (
	"math"

	"dreamrank/foundation/pusht"
)

// Units of the network's inputs and outputs, chosen so they are of order 1.
const (
	posScale   = 100.0 // table px per input unit
	shiftScale = 10.0  // table px per output unit of the block's shift
	turnScale  = 0.1   // radians per output unit of the block's turn
)

// numFeatures is the block network's input: the pusher now, the pusher
// after the step and the action target, each in the block's frame.
const numFeatures = 6

// pose is the block pose in table px and radians (angle unwrapped).
type pose struct{ x, y, a float64 }

// local maps a table point into the block's frame.
func (p pose) local(px, py float64) (float64, float64) {
	s, c := math.Sincos(p.a)
	dx, dy := px-p.x, py-p.y
	return c*dx + s*dy, -s*dx + c*dy
}

// moved applies a shift (in the block's own frame) and a turn.
func (p pose) moved(dx, dy, da float64) pose {
	s, c := math.Sincos(p.a)
	return pose{p.x + c*dx - s*dy, p.y + s*dx + c*dy, p.a + da}
}

// features writes the network input for a step from agent position now to
// next under action u. Expressed in the block's frame, the contact physics
// is the same wherever the block stands and however it is turned.
func features(dst []float32, b pose, now, next, u [2]float64) {
	for i, pt := range [3][2]float64{now, next, u} {
		lx, ly := b.local(pt[0], pt[1])
		dst[2*i] = float32(lx / posScale)
		dst[2*i+1] = float32(ly / posScale)
	}
}

// teeDistance is the distance from a point in the block's frame to the T
// (0 inside): the bar [-60,60]x[0,30] and the stem [-15,15]x[30,120].
func teeDistance(lx, ly float64) float64 {
	rect := func(cx, cy, hw, hh float64) float64 {
		return math.Hypot(math.Max(math.Abs(lx-cx)-hw, 0), math.Max(math.Abs(ly-cy)-hh, 0))
	}
	return math.Min(rect(0, 15, 60, 15), rect(0, 75, 15, 45))
}

// pathSamples is how many points of the pusher's path a step checks for
// contact.
const pathSamples = 8

// mayTouch reports whether the pusher, moving from now to next, comes
// within margin of touching the T (its radius is pusht.AgentRadius).
func mayTouch(b pose, now, next [2]float64, margin float64) bool {
	for k := 0; k <= pathSamples; k++ {
		f := float64(k) / pathSamples
		lx, ly := b.local(now[0]+f*(next[0]-now[0]), now[1]+f*(next[1]-now[1]))
		if teeDistance(lx, ly) < pusht.AgentRadius+margin {
			return true
		}
	}
	return false
}

// keypoints are body-local points of the T whose world positions the
// training loss compares: the bar's ends, the stem's foot and the centre
// of gravity, so shift and turn errors both show in table pixels.
var keypoints = [4][2]float64{{-60, 15}, {60, 15}, {0, 120}, {0, 45}}

// world maps a body-local point to the table.
func (p pose) world(lx, ly float64) (float64, float64) {
	s, c := math.Sincos(p.a)
	return p.x + c*lx - s*ly, p.y + s*lx + c*ly
}

// keypointDist is the largest keypoint displacement between two poses.
func keypointDist(a, b pose) float64 {
	d := 0.0
	for _, k := range keypoints {
		ax, ay := a.world(k[0], k[1])
		bx, by := b.world(k[0], k[1])
		d = math.Max(d, math.Hypot(ax-bx, ay-by))
	}
	return d
}

// unwrap returns angle a shifted by a multiple of 2pi to lie within pi of ref.
func unwrap(a, ref float64) float64 {
	return ref + math.Remainder(a-ref, 2*math.Pi)
}

// agentFeatures are the agent head's inputs for one axis: the last two
// displacements and the action's offset from the pusher.
func agentFeatures(hist [3]float64, u float64) [3]float64 {
	return [3]float64{hist[0] - hist[1], hist[1] - hist[2], u - hist[0]}
}
