package bench

import (
	"context"
	_ "embed"
	"fmt"
	"math"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/slots"
)

// PosesTolerance bounds the slots peer's largest pose difference (pixels
// and radians) over the agreement steps. Both sides compute the dynamics'
// bookkeeping in float64 and the network in float32; the network's sums
// in another order (and torch's SiLU against Go's) move its outputs by
// about 1e-7 of their size, a pose by a few 1e-6 px (2.1e-6 measured on
// the committed checkpoint). 1e-3 is hundreds of times that and still
// fails any real discrepancy: a push 1% too long moves poses by 4e-2, a
// contact test without its margin by 2e-1 (TestSlotsPeerCatchesWrongModels).
const PosesTolerance = 1e-3

// SlotsFramesTolerance bounds the fraction of the slots peer's frame bytes
// that may differ from Go's. Compositing is the same float32 arithmetic in
// the same order, but grid_sample takes its sampling positions in float32
// (Go: float64), about 1e-5 cells apart: a composited value moves by a few
// thousandths of a grey level, and its byte only when it sits that close
// to a half level (6e-7 of the bytes measured on the committed checkpoint).
// A wrong pose or sprite shows far more: a push 1% too long changes 2.5e-3
// of the bytes, the sprites drawn in the other order 6e-2.
const SlotsFramesTolerance = 1e-4

//go:embed torch_slots_peer.py
var torchSlotsPeerScript []byte

// slotsCaseChunks is how many chunks of steps the agreement case spans.
const slotsCaseChunks = 4

// slotsPeer is the PyTorch peer of the generic world model
// (torch_slots_peer.py): the whole Step (proprioception head, effector
// calibration, contact tests, contact depths, the passive objects'
// networks, the room, the sprite renderer) from Go's states, compared step
// by step with Go's Step on PushT scenes where the robot pushes the block;
// both sides are then timed on those episodes.
type slotsPeer struct{}

func (slotsPeer) script() []byte { return torchSlotsPeerScript }

func (slotsPeer) check(a *Agreement) error {
	a.Tolerance, a.FramesTolerance, a.InputsMaxAbsDiff = PosesTolerance, SlotsFramesTolerance, -1
	if a.MaxAbsDiff > PosesTolerance || a.FramesDiffFraction > SlotsFramesTolerance {
		return fmt.Errorf("%w: poses max |diff| %.3g (tolerance %.0e), %.3g of the frames' bytes differ (tolerance %.0e)",
			ErrDisagree, a.MaxAbsDiff, PosesTolerance, a.FramesDiffFraction, SlotsFramesTolerance)
	}
	return nil
}

// setup exports the model and traces the pushing episodes through Go's
// Step: every step's state is the peer's input for that step, and its
// outcome what the peer must reproduce.
func (slotsPeer) setup(ctx context.Context, m worldmodel.Model, chunk int) (peerSetup, error) {
	sm, ok := m.(*slots.Model)
	if !ok {
		return peerSetup{}, fmt.Errorf("%w: a %T says it is backend %s", ErrBadConfig, m, slots.Name)
	}
	exp, err := sm.Export()
	if err != nil {
		return peerSetup{}, fmt.Errorf("%w: %v", ErrBadConfig, err)
	}
	work, err := pushEpisodes(m.Spec(), chunk)
	if err != nil {
		return peerSetup{}, err
	}
	steps := slotsCaseChunks * chunk
	long := make([][][]float32, len(work.actions))
	for i, a := range work.actions {
		for k := range steps {
			long[i] = append(long[i], a[k%chunk])
		}
	}
	tr, err := sm.Trace(ctx, work.contexts, long)
	if err != nil {
		return peerSetup{}, err
	}
	c, moved := slotsCase(exp, tr, long)
	return peerSetup{req: map[string]any{"model": slotsExport(exp), "case": c, "chunk": chunk},
		work: work, steps: len(long) * steps, moved: moved}, nil
}

// pushEpisodes are peerEpisodes PushT scenes (test seeds' blocks) with the
// pusher placed beside the block, a context of it moving in, and a chunk
// of actions that pushes the block (the first ~5/8) and backs off (the
// rest), so that repeated chunks keep touching it: the network and the
// room's checks run as they do in a policy's episodes, not only the
// renderer.
func pushEpisodes(spec worldmodel.Spec, chunk int) (*workload, error) {
	if spec.FrameH != pusht.ObsSize || spec.FrameW != pusht.ObsSize || spec.Channels != 3 || spec.ProprioDim != 2 || spec.ActionDim != 2 {
		return nil, fmt.Errorf("%w: the agreement case renders %dx%d PushT scenes with 2-D proprioception and actions, the model takes %+v", ErrBadConfig, pusht.ObsSize, pusht.ObsSize, spec)
	}
	env := pusht.New(pusht.Config{})
	w := &workload{}
	for i := range peerEpisodes {
		env.ResetLegacy(100000 + int64(i))
		s := env.State()
		c := s.Block.Apply(pusht.Vec2{X: 0, Y: 45}) // the block's centre of gravity
		// Push away from the table's centre, turned a little per episode.
		ang := math.Atan2(c.Y-256, c.X-256) + (float64(i)-1.5)*0.4
		u := pusht.Vec2{X: math.Cos(ang), Y: math.Sin(ang)}
		// 105 px from the centre of gravity clears the T (its farthest
		// point is 76.5 px away) and the pusher's radius.
		start := pusht.Vec2{X: clampTable(c.X - 105*u.X), Y: clampTable(c.Y - 105*u.Y)}
		env.SetState(pusht.State{Agent: start, Block: s.Block})
		push := pusht.Vec2{X: c.X + 60*u.X, Y: c.Y + 60*u.Y}
		var ctxObs []worldmodel.Observation
		for k := range max(spec.ContextLen, 1) {
			if k > 0 {
				env.Step(push)
			}
			st := env.State()
			img, err := pusht.RenderState(st.Agent, st.Block, pusht.ObsSize)
			if err != nil {
				return nil, err
			}
			ctxObs = append(ctxObs, worldmodel.Observation{Frame: img, Proprio: []float32{float32(st.Agent.X), float32(st.Agent.Y)}})
		}
		var acts [][]float32
		for k := range chunk {
			t := push
			if k >= (5*chunk+7)/8 {
				t = start
			}
			acts = append(acts, []float32{float32(t.X), float32(t.Y)})
		}
		w.contexts = append(w.contexts, ctxObs)
		w.actions = append(w.actions, acts)
	}
	return w, nil
}

func clampTable(v float64) float64 { return math.Max(30, math.Min(pusht.WorldSize-30, v)) }

// slotsExport is the model as the peer reads it.
func slotsExport(e slots.Export) map[string]any {
	var sprites, effectors, passives []any
	for _, s := range e.Sprites {
		sprites = append(sprites, map[string]any{"side": s.Side, "scale": s.Scale, "reach": s.Reach,
			"alpha": ndarray.NewFloat32(s.Alpha, s.Side, s.Side), "premul": ndarray.NewFloat32(s.Premul, s.Side, s.Side, e.C)})
	}
	for _, f := range e.Effectors {
		effectors = append(effectors, map[string]any{"object": f.Object, "angle": f.Angle, "radius": f.Radius,
			"w": ndarray.NewFloat64(f.W, e.D+1, 2)})
	}
	for _, p := range e.Passives {
		var layers []any
		for _, l := range p.Layers {
			layers = append(layers, map[string]any{"w": ndarray.NewFloat32(l.W, l.In, l.Out), "b": ndarray.NewFloat32(l.B, l.Out)})
		}
		outline := make([]float64, 0, 2*len(p.Outline))
		for _, q := range p.Outline {
			outline = append(outline, q[0], q[1])
		}
		side := 2*p.Half + 1
		passives = append(passives, map[string]any{"object": p.Object, "half": p.Half, "layers": layers,
			"field": ndarray.NewFloat32(p.Field, side, side), "outline": ndarray.NewFloat64(outline, len(p.Outline), 2)})
	}
	return map[string]any{
		"h": e.H, "w": e.W, "c": e.C, "d": e.D, "a": e.A,
		"background": ndarray.NewFloat32(e.Background, e.H, e.W, e.C),
		"room":       ndarray.NewFloat32(e.Room, e.H, e.W),
		"head":       ndarray.NewFloat64(e.Head, 3*e.D+e.A+1, e.D),
		"sprites":    sprites, "effectors": effectors, "passives": passives,
		"pos_scale": e.PosScale, "shift_scale": e.ShiftScale, "turn_scale": e.TurnScale,
		"depth_scale": e.DepthScale, "depth_min": e.DepthMin, "depth_max": e.DepthMax,
		"contact_margin": e.ContactMargin, "contact_depth": e.ContactDepth, "per_effector": e.PerEffector,
		"path_samples": e.PathSamples, "room_bisections": e.RoomBisections,
	}
}

// slotsCase is Go's trace as the peer reads it: every state (the start and
// after each step), the actions, and what Step returned; moved counts the
// steps in which a passive object moved.
func slotsCase(e slots.Export, tr slots.Trace, actions [][][]float32) (map[string]any, int) {
	eps, steps := len(tr.Start), len(actions[0])
	objects := len(tr.Start[0].Poses)
	var hist, prop, acts []float32
	var poses []float64
	var frames []uint8
	moved := 0
	for i := range eps {
		states := append([]slots.State{tr.Start[i]}, tr.Steps[i]...)
		for k, s := range states {
			for _, p := range s.Proprio {
				hist = append(hist, p...)
			}
			for _, p := range s.Poses {
				poses = append(poses, p.X, p.Y, p.A)
			}
			if k == 0 {
				continue
			}
			for _, j := range e.Passives {
				if s.Poses[j.Object] != states[k-1].Poses[j.Object] {
					moved++
					break
				}
			}
		}
		for k := range steps {
			acts = append(acts, actions[i][k]...)
			prop = append(prop, tr.Proprio[i][k]...)
			frames = append(frames, tr.Frames[i][k]...)
		}
	}
	return map[string]any{
		"hist":       ndarray.NewFloat32(hist, eps, steps+1, 3, e.D),
		"poses":      ndarray.NewFloat64(poses, eps, steps+1, objects, 3),
		"actions":    ndarray.NewFloat32(acts, eps, steps, e.A),
		"go_proprio": ndarray.NewFloat32(prop, eps, steps, e.D),
		"go_frames":  ndarray.NewUint8(frames, eps, steps, e.H, e.W, e.C),
	}, moved
}
