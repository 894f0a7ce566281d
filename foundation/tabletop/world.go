package tabletop

import (
	"sync"

	"github.com/jakecoffman/cp/v2"
)

// World is one Chipmunk space holding the walls, the pusher and the block,
// with the PD controller that drives the pusher. It is not safe for
// concurrent use; planners use Clone for independent copies.
type World struct {
	cfg      Config
	lay      Layout
	dt       float64
	substeps int
	moment   float64 // the block's moment, restored after shapes are re-added

	space *cp.Space
	agent *cp.Body
	block *cp.Body
	// shapes lists the dynamic shapes in insertion order: pusher, part 0, part 1.
	shapes [3]*cp.Shape
	// spacer is a shape on a body outside the space, added and removed to
	// advance Chipmunk's shape-id counter (see Reset).
	spacer *cp.Shape
	// firstID is the pusher shape's hash id in a freshly built world.
	firstID cp.HashValue
}

// leafBins is the bucket count of Chipmunk's broadphase leaf set while it
// holds three shapes (cp v2.4.0's smallest hash-set size). Leaves are
// visited in bucket order, i.e. by shape id modulo leafBins.
const leafBins = 5

var buildMu sync.Mutex

// NewWorld builds a world for the layout in the reference insertion order
// (walls, pusher, part 0, part 1): insertion order fixes shape hash ids and
// so the order in which contacts are found and solved. It panics on a
// config whose SimHz is not a positive multiple of ControlHz.
func NewWorld(cfg Config, lay Layout) *World {
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		panic(err.Error())
	}
	// cp numbers bodies from an unsynchronised package counter; serialise
	// construction so worlds can be built from many goroutines.
	buildMu.Lock()
	defer buildMu.Unlock()

	space := cp.NewSpace()
	// Damping 0: dynamic bodies lose all velocity at each velocity
	// integration, so the block only moves while something pushes it.
	space.SetDamping(0)
	// Other settings keep Chipmunk's defaults (10 iterations, slop 0.1,
	// bias 0.9^60), which pymunk also uses. Friction and elasticity stay 0.

	for _, w := range Walls {
		space.AddShape(cp.NewSegment(space.StaticBody, cpv(w[0]), cpv(w[1]), WallRadius))
	}

	agent := cp.NewKinematicBody()
	agent.SetPosition(cpv(lay.AgentStart))
	space.AddBody(agent)
	agentShape := space.AddShape(cp.NewCircle(agent, AgentRadius, cp.Vector{}))

	block := cp.NewBody(lay.PartMass[0]+lay.PartMass[1], lay.Moment)
	space.AddBody(block)
	w := &World{
		cfg: cfg, lay: lay, dt: 1 / float64(cfg.SimHz), substeps: cfg.SimHz / cfg.ControlHz,
		space: space, agent: agent, block: block, firstID: agentShape.HashId(),
	}
	w.shapes[0] = agentShape
	for i, part := range lay.Parts {
		verts := []cp.Vector{cpv(part[0]), cpv(part[1]), cpv(part[2]), cpv(part[3])}
		s := cp.NewPolyShape(block, len(verts), verts, cp.NewTransformIdentity(), 0)
		// cp has no setter for the centre of gravity; it derives it from
		// the shapes' masses.
		s.SetMass(lay.PartMass[i])
		w.shapes[1+i] = space.AddShape(s)
	}
	// Accumulating shape masses also set a moment; keep the layout's, if
	// it names one.
	w.moment = lay.Moment
	if w.moment == 0 {
		w.moment = block.Moment()
	}
	block.SetMoment(w.moment)
	block.SetPosition(cpv(Vec2{lay.BlockStart.X, lay.BlockStart.Y}))
	block.SetAngle(lay.BlockStart.Angle)

	w.spacer = cp.NewCircle(cp.NewKinematicBody(), 1, cp.Vector{})
	return w
}

// Config is the world's configuration with defaults filled in.
func (w *World) Config() Config { return w.cfg }

// Reset returns the world to the state NewWorld builds, without the cost of
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
// The result is bit-identical to a freshly built world (tested).
func (w *World) Reset() {
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
	w.agent.SetPosition(cpv(w.lay.AgentStart))
	w.block.SetAngle(w.lay.BlockStart.Angle)
	w.block.SetPosition(cpv(Vec2{w.lay.BlockStart.X, w.lay.BlockStart.Y}))
	for _, s := range w.shapes {
		w.space.AddShape(s)
	}
	// Re-adding shapes with mass recomputes the moment; restore it.
	w.block.SetMoment(w.moment)
}
