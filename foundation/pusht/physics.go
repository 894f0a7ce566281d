package pusht

import (
	"math"
	"sync"

	"github.com/jakecoffman/cp/v2"
)

// Reference physics parameters (pusht_env.py): 100 Hz simulation, 10 Hz
// control and a PD controller that drives the kinematic pusher's velocity.
const (
	defaultSimHz     = 100
	defaultControlHz = 10
	defaultKp        = 100.0
	defaultKv        = 20.0
	blockMass        = 1.0
	// blockMoment is twice the bar's moment about the body origin: the
	// reference sums moment_for_poly(1, bar) twice (a bug we keep).
	blockMoment = 3000.0
)

// world is one Chipmunk space holding the walls, the pusher and the T.
type world struct {
	space *cp.Space
	agent *cp.Body
	block *cp.Body
	// shapes lists the dynamic shapes in insertion order: pusher, bar, stem.
	shapes [3]*cp.Shape
	// spacer is a shape on a body outside the space, added and removed to
	// advance Chipmunk's shape-id counter (see reset).
	spacer *cp.Shape
	// firstID is the pusher shape's hash id in a freshly built world.
	firstID cp.HashValue
}

// leafBins is the bucket count of Chipmunk's broadphase leaf set while it
// holds three shapes (cp v2.4.0's smallest hash-set size). Leaves are
// visited in bucket order, i.e. by shape id modulo leafBins.
const leafBins = 5

var buildMu sync.Mutex

// newWorld builds the reference scene in the reference insertion order
// (walls, pusher, bar, stem). Insertion order fixes shape hash ids and so
// the order in which contacts are found and solved.
func newWorld() *world {
	// cp numbers bodies from an unsynchronised package counter; serialise
	// construction so environments can be built from many goroutines.
	buildMu.Lock()
	defer buildMu.Unlock()

	space := cp.NewSpace()
	// Damping 0: dynamic bodies lose all velocity at each velocity
	// integration, so the T only moves while something pushes it.
	space.SetDamping(0)
	// Other settings keep Chipmunk's defaults (10 iterations, slop 0.1,
	// bias 0.9^60), which pymunk also uses. Friction and elasticity stay 0.

	for _, w := range walls {
		space.AddShape(cp.NewSegment(space.StaticBody, cpv(w[0]), cpv(w[1]), wallRadius))
	}

	agent := cp.NewKinematicBody()
	agent.SetPosition(cpv(agentStart))
	space.AddBody(agent)
	agentShape := space.AddShape(cp.NewCircle(agent, AgentRadius, cp.Vector{}))

	block := cp.NewBody(blockMass, blockMoment)
	space.AddBody(block)
	w := &world{space: space, agent: agent, block: block, firstID: agentShape.HashId()}
	w.shapes[0] = agentShape
	for i, rect := range teeLocal {
		verts := []cp.Vector{cpv(rect[0]), cpv(rect[1]), cpv(rect[2]), cpv(rect[3])}
		s := cp.NewPolyShape(block, len(verts), verts, cp.NewTransformIdentity(), 0)
		// cp has no setter for the centre of gravity; it derives it from
		// shape masses. Equal masses put it at the mean of the two centroids,
		// (0,45), which is exactly what the reference assigns.
		s.SetMass(blockMass / 2)
		w.shapes[1+i] = space.AddShape(s)
	}
	// Accumulating shape masses also set a moment; restore the reference one.
	block.SetMoment(blockMoment)
	block.SetPosition(cpv(Vec2{blockStart.X, blockStart.Y}))
	block.SetAngle(blockStart.Angle)

	w.spacer = cp.NewCircle(cp.NewKinematicBody(), 1, cp.Vector{})
	return w
}

// reset returns the world to the state newWorld builds, without the cost of
// a new space (Chipmunk preallocates about half a megabyte per space).
// Everything that could carry history into the next steps is cleared:
//   - removing the dynamic shapes drops every contact (cached arbiters and
//     their warm-start impulses) and empties the broadphase tree, whose
//     shape and pair lists otherwise decide the order contacts are solved in;
//   - the shapes are re-added at the start poses and with ids congruent to
//     the fresh world's modulo leafBins, so the tree is rebuilt identically;
//   - body velocities and Chipmunk's position-correction velocities are
//     zeroed.
//
// TestResetMatchesFreshWorld checks that the result is bit-identical to a
// freshly built world.
func (w *world) reset() {
	for _, s := range w.shapes {
		w.space.RemoveShape(s)
	}
	for {
		w.space.AddShape(w.spacer)
		id := w.spacer.HashId()
		w.space.RemoveShape(w.spacer)
		if (id+1)%leafBins == w.firstID%leafBins {
			break
		}
	}
	for _, b := range []*cp.Body{w.agent, w.block} {
		b.SetVelocityVector(cp.Vector{})
		b.SetAngularVelocity(0)
		// A zero-length position update consumes and clears v_bias/w_bias,
		// which cp does not expose otherwise; the pose is set again below.
		cp.BodyUpdatePosition(b, 0)
	}
	w.agent.SetPosition(cpv(agentStart))
	w.block.SetAngle(blockStart.Angle)
	w.block.SetPosition(cpv(Vec2{blockStart.X, blockStart.Y}))
	for _, s := range w.shapes {
		w.space.AddShape(s)
	}
	// Re-adding shapes with mass recomputes the moment; restore the reference one.
	w.block.SetMoment(blockMoment)
}

// setBlockPose places the block so that its origin lands exactly on p: the
// angle first (Chipmunk rotates about the centre of gravity, which moves the
// origin), then the position.
func (w *world) setBlockPose(p Pose) {
	w.block.SetAngle(p.Angle)
	w.block.SetPosition(cp.Vector{X: p.X, Y: p.Y})
}

// setBlockPoseLegacy is the reference's legacy order: position at the
// current angle, then the angle, which rotates the T about its centre of
// gravity and so moves the origin away from p. Seeded resets use it.
func (w *world) setBlockPoseLegacy(p Pose) {
	w.block.SetPosition(cp.Vector{X: p.X, Y: p.Y})
	w.block.SetAngle(p.Angle)
}

// blockPose reads the block origin and angle (angle as stored by Chipmunk).
func (w *world) blockPose() Pose {
	p := w.block.Position()
	return Pose{p.X, p.Y, w.block.Angle()}
}

func cpv(v Vec2) cp.Vector { return cp.Vector{X: v.X, Y: v.Y} }

func vec(v cp.Vector) Vec2 { return Vec2{v.X, v.Y} }

// pyMod is Python's float modulo (the result takes the divisor's sign), used
// for the dataset's block_angle % (2*pi).
func pyMod(a, m float64) float64 {
	r := math.Mod(a, m)
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}
