package latent

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

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
		switch opts["inference"] {
		case "", "fast":
		case "graph":
			m.UseGraph(true)
		default:
			return nil, fmt.Errorf("latent: option inference %q: want fast or graph", opts["inference"])
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

	// useGraph steps rollouts through the gorgonia graph (the reference)
	// instead of the fast forward pass.
	useGraph atomic.Bool

	mu     sync.Mutex
	graphs []*inferGraph // idle batch-1 inference graphs
	fast   []*fastNet    // idle fast forward passes
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
	return &Model{cfg: cfg, net: n, head: head, info: info}
}

// UseGraph makes rollouts started afterwards step through the gorgonia
// inference graph, the reference the default fast forward pass (fastNet)
// is tested against, instead of the fast pass (false, the default). The
// graph's gemms span the whole batch, so unlike the fast pass's an
// episode's values may differ in the last bits from one batch to another.
func (m *Model) UseGraph(on bool) { m.useGraph.Store(on) }

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
	out := map[string]string{"params": strconv.Itoa(m.NumParams()), "inference": "fast"}
	if m.useGraph.Load() {
		out["inference"] = "graph"
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
	return m.start(ctx, contexts, m.useGraph.Load())
}

// Reference implements worldmodel.Referencer: the same model whose
// rollouts always step through the gorgonia graph.
func (m *Model) Reference() worldmodel.Model { return graphModel{m} }

// graphModel is a Model whose rollouts step through the graph.
type graphModel struct{ *Model }

func (g graphModel) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	return g.start(ctx, contexts, true)
}

// Describe implements worldmodel.Describer.
func (g graphModel) Describe() map[string]string {
	d := g.Model.Describe()
	d["inference"] = "graph"
	return d
}

func (m *Model) start(ctx context.Context, contexts [][]worldmodel.Observation, graph bool) (worldmodel.Rollout, error) {
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
	return &rollout{m: m, eps: eps, graph: graph}, nil
}

type rollout struct {
	m      *Model
	graph  bool // step through the gorgonia graph
	mu     sync.Mutex
	eps    []*episodeState
	closed bool
}

// Step implements worldmodel.Rollout. The fast forward pass predicts the
// whole batch with one gemm per layer tile; the graph predicts episodes one
// at a time (in parallel over the cores). Either way an episode's
// prediction does not depend on the rest of the batch (TestFastMatchesGraph).
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
	if !r.graph {
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
