package slots

import (
	"context"
	"fmt"

	"dreamrank/worldmodel"
)

// Export is everything Rollout.Step reads, as plain arrays, so that another
// implementation of the step (the PyTorch peer in worldmodel/bench) can
// compute the same thing from the same numbers. Derived parts (contact
// fields, outlines, reaches) are exported as the model computed them, not
// recomputed, so the peer cannot drift from them. The slices are the
// model's own: read them, never write.
type Export struct {
	H, W, C int // frame
	D, A    int // proprioception and action dimensions
	// Background is H*W*C, 0..255; Sprites are in drawing order.
	Background []float32
	Sprites    []ExportedSprite
	// Head is the proprioception head (proprioHead): (3D+A+1) x D,
	// row-major, in float64 as Step computes it.
	Head      []float64
	Effectors []ExportedEffector
	Passives  []ExportedPassive
	// Room is H*W, 1 where an object may stand (room.fits).
	Room []float32
	// PosScale: frame pixels per network input unit of a position;
	// ShiftScale (pixels) and TurnScale (radians) per output unit;
	// DepthScale: frame pixels per unit of contact depth, which is clipped
	// to [DepthMin, DepthMax].
	PosScale, ShiftScale, TurnScale float64
	DepthScale, DepthMin, DepthMax  float64
	ContactMargin                   float64
	ContactDepth                    bool
	PerEffector                     int // network inputs per effector
	PathSamples                     int // contact checks along a step's path, besides its start
	RoomBisections                  int // room.constrain's bisection steps
}

// ExportedSprite is one object's sprite (Sprite) and how far it reaches.
type ExportedSprite struct {
	Side, Scale int
	Alpha       []float32 // Side*Side
	Premul      []float32 // Side*Side*C
	// Reach is Sprite.reachOf: rendering looks no farther than Reach+1
	// pixels from the object's origin.
	Reach float64
}

// ExportedEffector is an effector: object Object placed at W . [p, 1]
// ((D+1) x 2, row-major), turned by Angle, of footprint radius Radius.
type ExportedEffector struct {
	Object int
	W      []float64
	Angle  float64
	Radius float64
}

// ExportedPassive is a passive object: its contact field (Field, a
// (2*Half+1)^2 grid of one sample per pixel centred on the origin), the
// footprint points the room checks (Outline) and its network's layers
// (SiLU after every one but the last).
type ExportedPassive struct {
	Object  int
	Half    int
	Field   []float32
	Outline [][2]float64
	Layers  []ExportedDense
}

// ExportedDense is a dense layer y = x W + b, W In x Out row-major.
type ExportedDense struct {
	In, Out int
	W, B    []float32
}

// Export returns what Step reads. A perturbed draw (OptNoise) has no
// export: its steps depend on a random stream no other implementation
// shares.
func (m *Model) Export() (Export, error) {
	if m.noise > 0 {
		return Export{}, fmt.Errorf("%w: a perturbed draw (noise %g) has no deterministic step to export", ErrConfig, m.noise)
	}
	d := m.d
	s := d.lay.Shape
	e := Export{
		H: s.H, W: s.W, C: s.C, D: s.D, A: s.A,
		Background: d.scene.Background, Head: d.head.M, Room: d.room.allowed,
		PosScale: d.posScale, ShiftScale: d.shiftScale, TurnScale: d.turnScale,
		DepthScale: depthScale, DepthMin: depthMin, DepthMax: depthMax,
		ContactMargin: d.cfg.ContactMargin, ContactDepth: d.cfg.ContactDepth, PerEffector: d.cfg.perEffector(),
		PathSamples: pathSamples, RoomBisections: roomBisections,
	}
	for _, sp := range d.scene.Sprites {
		e.Sprites = append(e.Sprites, ExportedSprite{Side: sp.Side, Scale: sp.Scale, Alpha: sp.Alpha, Premul: sp.Premul, Reach: sp.reachOf()})
	}
	for i, ef := range d.eff {
		e.Effectors = append(e.Effectors, ExportedEffector{Object: d.lay.Effectors[i].Object, W: ef.W, Angle: ef.Angle, Radius: d.radius[i]})
	}
	for j, k := range d.lay.Passives {
		p := ExportedPassive{Object: k, Half: d.fields[j].half, Field: d.fields[j].dist, Outline: d.outline[j]}
		for _, name := range mlpNames(d.cfg, j) {
			w, b := d.ps.Get(name+".w"), d.ps.Get(name+".b")
			p.Layers = append(p.Layers, ExportedDense{In: w.Shape[0], Out: w.Shape[1], W: w.Data(), B: b.Data()})
		}
		e.Passives = append(e.Passives, p)
	}
	return e, nil
}

// State is an imagined episode's state between steps: the last three
// proprioceptions, newest first, and every object's pose.
type State struct {
	Proprio [3][]float32
	Poses   []Pose
}

// Trace is what a rollout of the model did, step by step: each episode's
// perceived start and, after every step, its state and observation.
type Trace struct {
	Start []State
	// Steps[i][k] is episode i after action k; Frames and Proprio are
	// what Step returned for it.
	Steps   [][]State
	Frames  [][][]uint8
	Proprio [][][]float32
}

// cloneState copies s's proprioception and poses.
func cloneState(s *state) State {
	out := State{Poses: append([]Pose(nil), s.poses...)}
	for k, p := range s.proprio {
		out.Proprio[k] = append([]float32(nil), p...)
	}
	return out
}

// Trace perceives contexts and steps every episode through its actions
// (actions[i] for episode i, all of one length) one Step call per action,
// the code every rollout runs, recording each step's state.
func (m *Model) Trace(ctx context.Context, contexts [][]worldmodel.Observation, actions [][][]float32) (Trace, error) {
	ro, err := m.Start(ctx, contexts)
	if err != nil {
		return Trace{}, err
	}
	defer ro.Close()
	r := ro.(*rollout)
	n := len(contexts)
	tr := Trace{Steps: make([][]State, n), Frames: make([][][]uint8, n), Proprio: make([][][]float32, n)}
	for i := range r.states {
		tr.Start = append(tr.Start, cloneState(&r.states[i]))
	}
	if len(actions) != n {
		return Trace{}, fmt.Errorf("%w: %d action sequences for %d episodes", worldmodel.ErrBadInput, len(actions), n)
	}
	one := make([][][]float32, n)
	for k := range actions[0] {
		for i := range one {
			if k >= len(actions[i]) {
				return Trace{}, fmt.Errorf("%w: episode %d has %d actions, episode 0 %d", worldmodel.ErrBadInput, i, len(actions[i]), len(actions[0]))
			}
			one[i] = actions[i][k : k+1]
		}
		out, err := r.Step(ctx, one)
		if err != nil {
			return Trace{}, err
		}
		for i := range n {
			tr.Steps[i] = append(tr.Steps[i], cloneState(&r.states[i]))
			tr.Frames[i] = append(tr.Frames[i], out[i][0].Frame)
			tr.Proprio[i] = append(tr.Proprio[i], out[i][0].Proprio)
		}
	}
	return tr, nil
}
