package slots

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"

	"dreamrank/foundation/fanout"
	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/worldmodel"
)

// Name is the backend name under which the model registers.
const Name = "slots"

func init() {
	worldmodel.Register(Name, func(_ context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
		path := opts["checkpoint"]
		if path == "" {
			return nil, fmt.Errorf("%w: option checkpoint (a checkpoint directory, or a training directory with a latest pointer) is required", ErrConfig)
		}
		m, err := Load(path)
		if err != nil {
			return nil, err
		}
		return m.withOptions(opts)
	})
	worldmodel.RegisterDraws(Name, drawKeys)
}

// Options of the registered backend beside checkpoint.
const (
	// OptNoise makes the model a perturbed draw: every predicted motion of
	// a passive object (shift and turn) is scaled by 1 + noise·ε, ε
	// standard normal per component and step; 0 (the default) is the model
	// itself.
	OptNoise = "noise"
	// OptSeed seeds a perturbed draw's noise (default 0); each imagined
	// episode's stream also depends on its first perceived state, so the
	// same seed and start give the same draw in any batch.
	OptSeed = "seed"
)

// drawKeys are the options of a perturbed draw.
var drawKeys = worldmodel.DrawKeys{Noise: OptNoise, Seed: OptSeed}

// Model is the generic slots world model. It is safe for concurrent use:
// its parameters are read-only once made.
type Model struct {
	d     *dynamics
	saved savedConfig
	info  map[string]string
	noise float64
	seed  uint64
}

func newModel(cfg savedConfig, ps *nn.Params, info map[string]string) *Model {
	return &Model{d: assemble(cfg.Model, cfg.Layout, ps), saved: cfg, info: info}
}

// withOptions applies the perturbed draw's options (OptNoise, OptSeed).
func (m *Model) withOptions(opts worldmodel.Options) (*Model, error) {
	d, err := worldmodel.ParseDraw(opts, drawKeys, "checkpoint")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	m.noise, m.seed = d.Noise, d.Seed
	m.info = d.Describe(m.info)
	return m, nil
}

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec {
	s := m.d.lay.Shape
	return worldmodel.Spec{FrameH: s.H, FrameW: s.W, Channels: s.C, ProprioDim: s.D, ActionDim: s.A, ContextLen: m.d.cfg.ContextLen, ControlHz: 10}
}

// Describe implements worldmodel.Describer.
func (m *Model) Describe() map[string]string {
	d := m.d
	out := map[string]string{
		"backend":  Name,
		"params":   strconv.Itoa(d.ps.Count()),
		"objects":  fmt.Sprintf("%d effectors, %d passive", len(d.lay.Effectors), len(d.lay.Passives)),
		"state":    "object poses fitted to the context frames with the learned sprites; proprioception",
		"dynamics": fmt.Sprintf("learned: linear proprioception head and effector calibration, per passive object an MLP %dx%d in its own frame", d.cfg.Layers, d.cfg.Hidden),
		"renderer": "learned background and sprites",
		"scene":    "learned",
		"head_rms": strconv.FormatFloat(d.lay.HeadRMS, 'g', 4, 64),
		"tracked":  fmt.Sprintf("%d/%d training frames", m.saved.TrackedFrames, m.saved.TrainFrames),
	}
	maps.Copy(out, m.info)
	return out
}

// FLOPsPerStep implements worldmodel.FLOPsCounter: the passive networks
// and the rendering's sprite sampling (about 20 operations per covered
// pixel and channel).
func (m *Model) FLOPsPerStep() float64 {
	d := m.d
	h := float64(d.cfg.Hidden)
	in := float64(d.cfg.perEffector() * len(d.eff))
	mlp := 2 * (in*h + float64(d.cfg.Layers-1)*h*h + 3*h)
	render := 0.0
	for _, s := range d.scene.Sprites {
		r := s.reachOf() + 1
		render += 4 * r * r * float64(d.scene.C+1) * 20
	}
	return float64(len(d.lay.Passives))*mlp + render
}

// perceive reads an episode's state from its context: the proprioception
// history and every object's pose, fitted to the context frames oldest
// first (each fit starting from the last); effectors are then placed by
// their calibration.
func (m *Model) perceive(f *fitter, obs []worldmodel.Observation) state {
	var s state
	for k := range s.proprio {
		s.proprio[k] = append([]float32(nil), obs[max(0, len(obs)-1-k)].Proprio...)
	}
	var poses []Pose
	for _, o := range obs {
		poses, _ = f.fit(o.Frame, poses)
	}
	for e, ef := range m.d.eff {
		poses[m.d.lay.Effectors[e].Object] = ef.pose(s.proprio[0])
	}
	s.poses = poses
	return s
}

// hash identifies a perceived start, so a perturbed draw's noise does not
// depend on the batch it runs in.
func (s *state) hash() uint64 {
	h := fnv.New64a()
	var b [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	for _, v := range s.proprio[0] {
		put(float64(v))
	}
	for _, p := range s.poses {
		put(p.X)
		put(p.Y)
		put(p.A)
	}
	return h.Sum64()
}

// Start implements worldmodel.Model.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := m.Spec().ValidateContexts(contexts); err != nil {
		return nil, err
	}
	r := &rollout{m: m, states: make([]state, len(contexts))}
	err := fanout.EachWith(ctx, len(contexts), func() *fitter {
		return newFitter(m.d.scene, m.d.colours, m.saved.Train.Scene)
	}, func(f *fitter, i int) error {
		r.states[i] = m.perceive(f, contexts[i])
		if m.noise > 0 {
			r.states[i].rng = rand.New(rand.NewPCG(m.seed, r.states[i].hash()))
			r.states[i].noise = m.noise
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// rollout is a batch of imagined episodes.
type rollout struct {
	m      *Model
	mu     sync.Mutex
	states []state
	closed bool
}

// Step implements worldmodel.Rollout.
func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	d := r.m.d
	chunk, err := r.m.Spec().ValidateActions(actions, len(r.states))
	if err != nil {
		return nil, err
	}
	out := make([][]worldmodel.Observation, len(r.states))
	defer openblas.Serial()()
	err = fanout.Each(ctx, len(r.states), func(i int) error {
		w := d.stepper()
		defer d.steppers.Put(w)
		out[i] = make([]worldmodel.Observation, chunk)
		s := r.states[i]
		s.poses = append([]Pose(nil), s.poses...)
		for k, a := range actions[i] {
			d.step(w, &s, a)
			out[i][k] = worldmodel.Observation{Frame: d.scene.Render(s.poses), Proprio: append([]float32(nil), s.proprio[0]...)}
		}
		r.states[i] = s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Close implements worldmodel.Rollout.
func (r *rollout) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}
