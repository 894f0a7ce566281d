package objects

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"

	"dreamrank/foundation/fanout"
	"dreamrank/foundation/nn"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
)

// Name is the backend name under which the model registers.
const Name = "objects"

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
	// OptNoise makes the model a perturbed draw: every predicted block
	// motion (shift and turn) is scaled by 1 + noise·ε, ε standard normal
	// per component and step; 0 (the default) is the model itself.
	OptNoise = "noise"
	// OptSeed seeds a perturbed draw's noise (default 0); each imagined
	// episode's stream also depends on its first perceived state, so the
	// same seed and start give the same draw in any batch.
	OptSeed = "seed"
)

// drawKeys are the options of a perturbed draw.
var drawKeys = worldmodel.DrawKeys{Noise: OptNoise, Seed: OptSeed}

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

// Model is the structured PushT world model. It is safe for concurrent use:
// its weights are read-only once made.
type Model struct {
	cfg   ModelConfig
	ps    *nn.Params
	agent [3]float64 // agent head coefficients
	info  map[string]string
	// noise and seed make a perturbed draw (OptNoise, OptSeed).
	noise float64
	seed  uint64
}

// New returns an untrained model: the agent head is zero (the pusher stays
// put) and the block never moves.
func New(cfg ModelConfig, seed uint64) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newModel(cfg, newParams(cfg, seed), map[string]string{"checkpoint": "untrained"}), nil
}

func newModel(cfg ModelConfig, ps *nn.Params, info map[string]string) *Model {
	m := &Model{cfg: cfg, ps: ps, info: info}
	for i, w := range ps.Get(agentParam).Data() {
		m.agent[i] = float64(w)
	}
	return m
}

// Config returns the model's architecture.
func (m *Model) Config() ModelConfig { return m.cfg }

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: frameSize, FrameW: frameSize, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: m.cfg.ContextLen, ControlHz: 10}
}

// Describe implements worldmodel.Describer.
func (m *Model) Describe() map[string]string {
	out := map[string]string{
		"backend":  Name,
		"params":   strconv.Itoa(m.ps.Count()),
		"scene":    "pusht",
		"state":    "agent xy from proprio, block pose read from frames (pusht pose reader)",
		"dynamics": fmt.Sprintf("learned: linear agent head, block MLP %dx%d in the block frame", m.cfg.Layers, m.cfg.Hidden),
		"renderer": "pusht.RenderState",
	}
	for k, v := range m.info {
		out[k] = v
	}
	return out
}

// FLOPsPerStep implements worldmodel.FLOPsCounter: the block MLP (the
// renderer's drawing is not counted).
func (m *Model) FLOPsPerStep() float64 {
	h := float64(m.cfg.Hidden)
	return 2 * (numFeatures*h + float64(m.cfg.Layers-1)*h*h + 3*h)
}

// state is one imagined episode between steps.
type state struct {
	agent [3][2]float64 // pusher positions, newest first
	block pose
	rng   *rand.Rand // a perturbed draw's noise; nil for the model itself
}

// perceive reads an episode's structured state from its context: the pusher
// from proprioception, the block from the newest frame the pose reader can
// read (the newest frame's best guess when none can be read).
func perceive(obs []worldmodel.Observation) state {
	var s state
	for k := range s.agent {
		o := obs[max(0, len(obs)-1-k)]
		s.agent[k] = [2]float64{float64(o.Proprio[0]), float64(o.Proprio[1])}
	}
	var guess *pusht.Reading
	for k := len(obs) - 1; k >= 0; k-- {
		rd, err := pusht.ReadFrame(obs[k].Frame, frameSize)
		if err != nil {
			continue
		}
		if rd.BlockOK {
			guess = &rd
			break
		}
		if guess == nil {
			guess = &rd
		}
	}
	if guess != nil {
		s.block = pose{guess.Block.X, guess.Block.Y, guess.Block.Angle}
	}
	return s
}

// hash identifies a perceived start, so a perturbed draw's noise stream
// does not depend on the batch it runs in.
func (s state) hash() uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, v := range []float64{s.agent[0][0], s.agent[0][1], s.block.x, s.block.y, s.block.a} {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	return h.Sum64()
}

// step advances one episode by one action. f is a forward pass owned by the
// caller (its buffers are not shared).
func (m *Model) step(f *nn.MLP, s *state, u [2]float64) {
	var next [2]float64
	for ax := range 2 {
		x := agentFeatures([3]float64{s.agent[0][ax], s.agent[1][ax], s.agent[2][ax]}, u[ax])
		next[ax] = s.agent[0][ax] + m.agent[0]*x[0] + m.agent[1]*x[1] + m.agent[2]*x[2]
	}
	if mayTouch(s.block, s.agent[0], next, m.cfg.ContactMargin) {
		var in [numFeatures]float32
		features(in[:], s.block, s.agent[0], next, u)
		var o [3]float32
		f.Run(o[:], in[:])
		dx, dy, da := shiftScale*float64(o[0]), shiftScale*float64(o[1]), turnScale*float64(o[2])
		if s.rng != nil {
			dx *= 1 + m.noise*s.rng.NormFloat64()
			dy *= 1 + m.noise*s.rng.NormFloat64()
			da *= 1 + m.noise*s.rng.NormFloat64()
		}
		s.block = s.block.moved(dx, dy, da)
	}
	s.agent[2], s.agent[1], s.agent[0] = s.agent[1], s.agent[0], next
}

// observe renders a state as the camera would see it.
func observe(s state) (worldmodel.Observation, error) {
	a := math.Mod(s.block.a, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	frame, err := pusht.RenderState(pusht.Vec2{X: s.agent[0][0], Y: s.agent[0][1]}, pusht.Pose{X: s.block.x, Y: s.block.y, Angle: a}, frameSize)
	if err != nil {
		return worldmodel.Observation{}, fmt.Errorf("objects: render: %w", err)
	}
	return worldmodel.Observation{Frame: frame, Proprio: []float32{float32(s.agent[0][0]), float32(s.agent[0][1])}}, nil
}

// Start implements worldmodel.Model.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := m.Spec().ValidateContexts(contexts); err != nil {
		return nil, err
	}
	r := &rollout{m: m, states: make([]state, len(contexts))}
	err := fanout.Each(ctx, len(contexts), func(i int) error {
		r.states[i] = perceive(contexts[i])
		if m.noise > 0 {
			r.states[i].rng = rand.New(rand.NewPCG(m.seed, r.states[i].hash()))
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
	chunk, err := r.m.Spec().ValidateActions(actions, len(r.states))
	if err != nil {
		return nil, err
	}
	out := make([][]worldmodel.Observation, len(r.states))
	err = fanout.Each(ctx, len(r.states), func(i int) error {
		f := newForward(r.m.ps, r.m.cfg)
		out[i] = make([]worldmodel.Observation, chunk)
		s := r.states[i]
		for k, a := range actions[i] {
			r.m.step(f, &s, [2]float64{float64(a[0]), float64(a[1])})
			o, err := observe(s)
			if err != nil {
				return err
			}
			out[i][k] = o
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
