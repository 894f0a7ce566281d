package latent

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/dnnl"
	"dreamrank/worldmodel"
)

// Name is the backend name under which the model registers.
const Name = "builtin"

func init() {
	worldmodel.Register(Name, func(_ context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
		path := opts["checkpoint"]
		if path == "" {
			return nil, fmt.Errorf("latent: option checkpoint (a checkpoint directory, or a training directory with a latest pointer) is required")
		}
		m, err := Load(path)
		if err != nil {
			return nil, err
		}
		if err := m.SetInference(opts["inference"]); err != nil {
			return nil, fmt.Errorf("latent: option inference: %w", err)
		}
		return m, nil
	})
}

// Model is the built-in world model. It is safe for concurrent use.
//
// Each imagined step: the agent's next position comes from the linear
// proprio head; a U-Net (encoder to a quarter-resolution spatial latent,
// residual blocks, decoder with skips) reads the previous frame plus three
// disc planes (agent before, agent after, action target) and predicts the
// change of the frame, which is added to the previous frame. Predicted
// frames are rounded to bytes, their changed block pixels sharpened towards
// the palette (ModelConfig.Snap), and fed back.
type Model struct {
	cfg  ModelConfig
	net  *net
	head proprioHead
	info map[string]string // Describe

	// mode is the forward pass rollouts started now step through.
	mode atomic.Int32
	// dnnlErr is why the default oneDNN pass was given up (nil: it was
	// not), reported by Describe.
	dnnlErr atomic.Pointer[error]

	mu     sync.Mutex
	graphs []*inferGraph        // idle batch-1 inference graphs
	fast   []*fastNet           // idle fast forward passes
	dnnl   *dnnl.Pool[*dnnlNet] // idle oneDNN forward passes
	// running is read-held while graphs run and write-held while one is
	// built: building a tape machine re-sets the engine of the weight
	// tensors all of this model's graphs share.
	running sync.RWMutex
}

// New returns a randomly initialised (untrained) model.
func New(cfg ModelConfig, seed uint64) (*Model, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newModel(cfg, newNet(cfg, seed), defaultProprioHead(), map[string]string{"backend": Name, "checkpoint": "untrained"}), nil
}

func newModel(cfg ModelConfig, n *net, head proprioHead, info map[string]string) *Model {
	m := &Model{cfg: cfg, net: n, head: head, info: info, dnnl: &dnnl.Pool[*dnnlNet]{}}
	// A backstop for models nobody closes: their idle oneDNN passes' C
	// memory goes when they do.
	runtime.AddCleanup(m, func(pool *dnnl.Pool[*dnnlNet]) { pool.Close() }, m.dnnl)
	return m
}

// Forward passes a rollout can step through.
const (
	modeAuto  int32 = iota // oneDNN, or fast where oneDNN fails
	modeDnnl               // oneDNN only
	modeFast               // fastNet: im2col + OpenBLAS
	modeGraph              // the gorgonia graph (the reference)
)

var modeNames = map[string]int32{"": modeAuto, "dnnl": modeDnnl, "fast": modeFast, "graph": modeGraph}

// ErrInference is an unknown forward pass name.
var ErrInference = errors.New("latent: unknown inference mode (want dnnl, fast or graph)")

// SetInference picks the forward pass of rollouts started afterwards:
// "dnnl" (oneDNN, dnnlNet), "fast" (im2col + OpenBLAS, fastNet, the
// reference oneDNN is tested against), "graph" (the gorgonia graph, the
// reference of both) or "" (the default: oneDNN, falling back to fast for
// good, reported by Describe, if oneDNN cannot build the network).
func (m *Model) SetInference(name string) error {
	mode, ok := modeNames[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrInference, name)
	}
	m.mode.Store(mode)
	return nil
}

// UseGraph makes rollouts started afterwards step through the gorgonia
// inference graph (true) or the default forward pass (false). The
// graph's gemms span the whole batch, so unlike the other passes' an
// episode's values may differ in the last bits from one batch to another.
func (m *Model) UseGraph(on bool) {
	if on {
		m.mode.Store(modeGraph)
	} else {
		m.mode.Store(modeAuto)
	}
}

// modeName names the forward pass mode steps through now.
func (m *Model) modeName(mode int32) string {
	switch mode {
	case modeGraph:
		return "graph"
	case modeFast:
		return "fast"
	case modeAuto:
		if m.dnnlErr.Load() != nil {
			return "fast"
		}
	}
	return "dnnl"
}

// Close frees the idle oneDNN forward passes; rollouts stepped afterwards
// use the fast pass. Closing twice is a no-op.
func (m *Model) Close() error { return m.dnnl.Close() }

// Config returns the model's architecture.
func (m *Model) Config() ModelConfig { return m.cfg }

// NumParams is the number of trained scalars.
func (m *Model) NumParams() int { return m.net.numParams() + proprioFeatures }

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: m.cfg.FrameH, FrameW: m.cfg.FrameW, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: m.cfg.ContextLen, ControlHz: 10}
}

// Describe implements worldmodel.Describer.
func (m *Model) Describe() map[string]string {
	out := map[string]string{"params": strconv.Itoa(m.NumParams()), "inference": m.modeName(m.mode.Load())}
	if err := m.dnnlErr.Load(); err != nil {
		out["dnnl_error"] = (*err).Error()
	}
	if out["inference"] == "dnnl" {
		out["dnnl"] = dnnl.Version()
	}
	for k, v := range m.info {
		out[k] = v
	}
	return out
}

// FLOPsPerStep implements worldmodel.FLOPsCounter: the convolutions of one
// step on a whole frame plus the proprio head.
func (m *Model) FLOPsPerStep() float64 {
	return m.net.flops(m.cfg.FrameH, m.cfg.FrameW) + 2*2*proprioFeatures
}

// acquire takes n idle inference graphs, building the missing ones.
func (m *Model) acquire(n int) ([]*inferGraph, error) {
	m.mu.Lock()
	k := min(n, len(m.graphs))
	gs := slices.Clone(m.graphs[len(m.graphs)-k:])
	m.graphs = m.graphs[:len(m.graphs)-k]
	m.mu.Unlock()
	if len(gs) == n {
		return gs, nil
	}
	m.running.Lock()
	defer m.running.Unlock()
	for len(gs) < n {
		g, err := newInferGraph(m.net, 1)
		if err != nil {
			m.release(gs)
			return nil, err
		}
		gs = append(gs, g)
	}
	return gs, nil
}

func (m *Model) release(gs []*inferGraph) {
	m.mu.Lock()
	m.graphs = append(m.graphs, gs...)
	m.mu.Unlock()
}

// episodeState is one imagined episode's state between steps.
type episodeState struct {
	frame []uint8
	hist  [3][2]float32 // agent positions, newest first
}

// Start implements worldmodel.Model.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	return m.start(ctx, contexts, m.mode.Load())
}

// Reference implements worldmodel.Referencer: the same model whose
// rollouts always step through the gorgonia graph.
func (m *Model) Reference() worldmodel.Model { return graphModel{m} }

// graphModel is a Model whose rollouts step through the graph.
type graphModel struct{ *Model }

func (g graphModel) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	return g.start(ctx, contexts, modeGraph)
}

// Describe implements worldmodel.Describer.
func (g graphModel) Describe() map[string]string {
	d := g.Model.Describe()
	d["inference"] = "graph"
	return d
}

func (m *Model) start(ctx context.Context, contexts [][]worldmodel.Observation, mode int32) (worldmodel.Rollout, error) {
	if err := m.Spec().ValidateContexts(contexts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	eps := make([]*episodeState, len(contexts))
	for i, c := range contexts {
		s := &episodeState{frame: slices.Clone(c[len(c)-1].Frame)}
		for k := range s.hist {
			j := max(len(c)-1-k, 0) // the first observation is repeated
			s.hist[k] = vec2(c[j].Proprio)
		}
		eps[i] = s
	}
	return &rollout{m: m, eps: eps, mode: mode}, nil
}

type rollout struct {
	m      *Model
	mode   int32 // the forward pass
	mu     sync.Mutex
	eps    []*episodeState
	closed bool
}

// Step implements worldmodel.Rollout. The oneDNN pass predicts groups of
// episodes with one primitive per layer, the fast forward pass the whole
// batch with one gemm per layer tile; the graph predicts episodes one at a
// time (in parallel over the cores). Either way an episode's prediction
// does not depend on the rest of the batch (TestFastMatchesGraph,
// TestDnnlMatchesFast).
func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	chunk, err := r.m.Spec().ValidateActions(actions, len(r.eps))
	if err != nil {
		return nil, err
	}
	switch r.mode {
	case modeDnnl:
		return r.m.stepDnnl(ctx, r.eps, actions, chunk)
	case modeAuto:
		return r.m.stepAuto(ctx, r.eps, actions, chunk)
	case modeFast:
		return r.m.stepFast(ctx, r.eps, actions, chunk)
	}
	out := make([][]worldmodel.Observation, len(r.eps))
	errs := make([]error, len(r.eps))
	gs, err := r.m.acquire(min(runtime.GOMAXPROCS(0), len(r.eps)))
	if err != nil {
		return nil, err
	}
	defer r.m.release(gs)
	r.m.running.RLock()
	defer r.m.running.RUnlock()
	next := make(chan int)
	var wg sync.WaitGroup
	for _, g := range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = r.m.imagine(ctx, g, r.eps[i], actions[i][:chunk])
			}
		}()
	}
	for i := range r.eps {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// imagine advances one episode through its action chunk.
func (m *Model) imagine(ctx context.Context, g *inferGraph, s *episodeState, actions [][]float32) ([]worldmodel.Observation, error) {
	h, w := m.cfg.FrameH, m.cfg.FrameW
	rgb := g.rgbT.Data().([]float32)
	planes := g.planeT.Data().([]float32)
	gate := g.gateT.Data().([]float32)
	out := make([]worldmodel.Observation, len(actions))
	for k, a := range actions {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := m.head.predict(s.hist, a, m.cfg.Table)
		toCHW(rgb, s.frame, w, 0, 0, h, w)
		fillPlanes(planes, h, w, 0, 0, s.hist[0], p, a, m.cfg)
		fillGate(gate, h, w, 0, 0, s.hist[0], p, m.cfg)
		pred, err := g.run()
		if err != nil {
			return nil, fmt.Errorf("latent: predict: %w", err)
		}
		frame := make([]uint8, h*w*3)
		fromCHW(frame, pred, h, w)
		if m.cfg.Snap > 0 {
			snapBlock(frame, s.frame, w, m.cfg.Snap, p, m.cfg)
		}
		s.frame = frame
		s.hist = [3][2]float32{p, s.hist[0], s.hist[1]}
		out[k] = worldmodel.Observation{Frame: slices.Clone(frame), Proprio: []float32{p[0], p[1]}}
	}
	return out, nil
}

// Close implements worldmodel.Rollout.
func (r *rollout) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	r.eps = nil
	return nil
}
