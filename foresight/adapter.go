package foresight

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/nn"
	"dreamrank/policy"
	"dreamrank/policy/flow"
)

// Name is the backend name of adapted flow policies.
const Name = "foresight"

// Checkpoint formats of this package.
const (
	AdapterFormat  = "dreamrank-foresight-adapter"
	TeacherFormat  = "dreamrank-foresight-teacher"
	FormatVersion  = 1
	adapterPrefix  = "adapter"
	teacherPrefix  = "teacher"
	AdaptersDir    = "adapters"
	TeacherAdapter = "teacher"
)

func init() {
	policy.Register(Name, func(ctx context.Context, opts policy.Options) (policy.Policy, error) {
		return Open(ctx, opts)
	})
}

// Open opens a flow policy with an adapter: the "flow" backend's options
// plus "adapter", a name under <checkpoint>/adapters/ or a path (a
// checkpoint directory or an output directory's latest).
func Open(ctx context.Context, opts policy.Options) (*flow.Policy, error) {
	name := opts["adapter"]
	if name == "" {
		return nil, fmt.Errorf("%w: foresight needs option adapter (a name under <checkpoint>/%s/ or a path)", policy.ErrBadInput, AdaptersDir)
	}
	p, err := flow.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	path := name
	if !strings.ContainsRune(name, os.PathSeparator) {
		path = filepath.Join(opts["checkpoint"], AdaptersDir, name)
	}
	a, err := LoadAdapter(path, p)
	if err != nil {
		return nil, err
	}
	p.Adapter = a
	return p, nil
}

// AdapterConfig is the adapter's architecture.
type AdapterConfig struct {
	// Hidden is the MLP's width, Layers its hidden layers (at least 1).
	Hidden int `json:"hidden"`
	Layers int `json:"layers"`
	// Obs also feeds the adapter the observation feature (keypoints and
	// pusher position): g(v_base, t, obs), an extension beyond the
	// method's g(v_base, t), off by default.
	Obs bool `json:"obs,omitempty"`
}

// Adapter is g(v_base, t): a SiLU MLP on the head's velocity and the flow
// time embedding whose last layer starts at zero. It implements
// flow.MLPAdapter and is safe for concurrent use.
type Adapter struct {
	cfg   AdapterConfig
	chunk int // ChunkDim of the base policy
	tdim  int // TimeDim
	odim  int // ObsDim when the adapter reads observations, else 0
	ps    *nn.Params
	info  map[string]string
	pool  sync.Pool // *scratch
	// layers are the MLP's weights in order, sharing ps's values.
	layers []flow.Dense
}

// NewAdapter makes a zero-initialised adapter for base.
func NewAdapter(base *flow.Policy, cfg AdapterConfig, seed uint64) (*Adapter, error) {
	c := base.Config()
	if cfg.Hidden <= 0 || cfg.Layers <= 0 {
		return nil, fmt.Errorf("foresight: adapter hidden %d x %d", cfg.Hidden, cfg.Layers)
	}
	rng := rand.New(rand.NewPCG(seed, 0x61646170))
	ps := &nn.Params{}
	odim := 0
	if cfg.Obs {
		odim = c.ObsDim()
	}
	ps.AddLinear(rng, "adapter.in", c.ChunkDim()+c.TimeDim+odim, cfg.Hidden, 1)
	for l := 1; l < cfg.Layers; l++ {
		ps.AddLinear(rng, fmt.Sprintf("adapter.h%d", l), cfg.Hidden, cfg.Hidden, 1)
	}
	ps.AddLinear(rng, "adapter.out", cfg.Hidden, c.ChunkDim(), 0) // zero: starts as no change
	a := &Adapter{cfg: cfg, chunk: c.ChunkDim(), tdim: c.TimeDim, odim: odim, ps: ps, info: map[string]string{}}
	for i := 0; i < len(ps.List); i += 2 {
		w, b := ps.List[i], ps.List[i+1]
		a.layers = append(a.layers, flow.Dense{W: w.Data(), B: b.Data(), In: w.Shape[0], Out: w.Shape[1]})
	}
	return a, nil
}

// Params is the adapter's weights.
func (a *Adapter) Params() *nn.Params { return a.ps }

// ReadsObs reports whether the adapter also reads the observation feature
// (AdapterConfig.Obs).
func (a *Adapter) ReadsObs() bool { return a.odim > 0 }

var _ flow.MLPAdapter = (*Adapter)(nil)

// MLP implements flow.MLPAdapter: the layers, sharing the weights, so the
// policy runs the adapter inside its head's oneDNN plans.
func (a *Adapter) MLP() []flow.Dense { return a.layers }

// Describe implements policy.Describer (the policy reports it as
// adapter_*).
func (a *Adapter) Describe() map[string]string { return a.info }

type scratch struct{ x, h, r, g, temb []float32 }

// Correction writes g(v, t) for rows rows into dst (rows x ChunkDim); obs
// (rows x ObsDim) is read only by adapters configured with Obs.
func (a *Adapter) Correction(dst, v, obs []float32, t float64, rows int) {
	s, _ := a.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer a.pool.Put(s)
	a.correction(s, dst, v, obs, t, rows)
}

func (a *Adapter) correction(s *scratch, dst, v, obs []float32, t float64, rows int) {
	if a.odim > 0 && len(obs) < rows*a.odim {
		panic(fmt.Sprintf("foresight: adapter reads observations; got %d values for %d rows", len(obs), rows))
	}
	in := a.chunk + a.tdim + a.odim
	s.x = grow(s.x, rows*in)
	s.temb = grow(s.temb, a.tdim)
	flow.TimeEmbedding(s.temb, t)
	for r := 0; r < rows; r++ {
		copy(s.x[r*in:], v[r*a.chunk:(r+1)*a.chunk])
		copy(s.x[r*in+a.chunk:], s.temb)
		if a.odim > 0 {
			copy(s.x[r*in+a.chunk+a.tdim:], obs[r*a.odim:(r+1)*a.odim])
		}
	}
	x := s.x
	for i, l := range a.layers {
		last := i == len(a.layers)-1
		var y []float32
		if last {
			y = dst[:rows*l.Out]
		} else {
			s.h = grow(s.h, rows*l.Out)
			y = s.h
		}
		dense(l, x, y, rows, !last)
		if !last {
			x, s.h, s.r = y, s.r, y
		}
	}
}

// Adapt implements flow.Adapter: v += g(v, t). Adapters configured with
// Obs need AdaptObs.
func (a *Adapter) Adapt(v []float32, t float64, rows int) { a.AdaptObs(v, nil, t, rows) }

// AdaptObs implements flow.ObsAdapter: v += g(v, t[, obs]).
func (a *Adapter) AdaptObs(v, obs []float32, t float64, rows int) {
	s, _ := a.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	defer a.pool.Put(s)
	s.g = grow(s.g, rows*a.chunk)
	a.correction(s, s.g, v, obs, t, rows)
	for i, d := range s.g {
		v[i] += d
	}
}

// dense computes y = act(x W + b) for rows rows, act SiLU when act.
func dense(l flow.Dense, x, y []float32, rows int, act bool) {
	l.Affine(x, y, rows)
	if act {
		flow.SiLU(y[:rows*l.Out])
	}
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// graph builds g(vb, temb[, obs]) into a graph bound to b (obs is used
// only by adapters configured with Obs).
func (a *Adapter) graph(b *nn.Bound, vb, temb, obs *G.Node) (*G.Node, error) {
	ins := []*G.Node{vb, temb}
	if a.odim > 0 {
		ins = append(ins, obs)
	}
	x, err := G.Concat(1, ins...)
	if err != nil {
		return nil, err
	}
	h, err := b.Linear("adapter.in", x)
	if err == nil {
		h, err = nn.SiLU(h)
	}
	for l := 1; l < a.cfg.Layers && err == nil; l++ {
		h, err = b.Linear(fmt.Sprintf("adapter.h%d", l), h)
		if err == nil {
			h, err = nn.SiLU(h)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("foresight: adapter: %w", err)
	}
	return b.Linear("adapter.out", h)
}

// savedAdapter is an adapter checkpoint's config.
type savedAdapter struct {
	Adapter AdapterConfig `json:"adapter"`
	Train   Config        `json:"train"`
	// Base identifies the policy the adapter was trained on (its weights'
	// SHA-256); Teacher the teacher's checkpoint, when one was used.
	Base    string `json:"base_weights_sha256"`
	Teacher string `json:"teacher,omitempty"`
}

// LoadAdapter reads an adapter checkpoint and checks it fits base.
func LoadAdapter(path string, base *flow.Policy) (*Adapter, error) {
	c, err := checkpoint.Read(path, AdapterFormat, FormatVersion, false)
	if err != nil {
		return nil, fmt.Errorf("foresight: adapter %s: %w", path, err)
	}
	var sa savedAdapter
	if err := json.Unmarshal(c.Config, &sa); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if want := base.Describe()["weights_sha256"]; sa.Base != "" && want != "" && sa.Base != want {
		return nil, fmt.Errorf("foresight: adapter %s was trained on another policy (weights %.12s, this one %.12s)", c.Dir, sa.Base, want)
	}
	a, err := NewAdapter(base, sa.Adapter, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if err := a.ps.Load(c); err != nil {
		return nil, err
	}
	a.info = map[string]string{"checkpoint": c.Dir, "step": strconv.Itoa(c.Step), "mode": string(sa.Train.Mode),
		"weights_sha256": c.Files[checkpoint.WeightsFile].SHA256}
	return a, nil
}

// LoadTeacher reads a teacher checkpoint for base.
func LoadTeacher(path string, base *flow.Policy) (*Teacher, string, error) {
	c, err := checkpoint.Read(path, TeacherFormat, FormatVersion, false)
	if err != nil {
		return nil, "", err
	}
	var st savedTeacher
	if err := json.Unmarshal(c.Config, &st); err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if want := base.Describe()["weights_sha256"]; st.Base != "" && want != "" && st.Base != want {
		return nil, "", fmt.Errorf("foresight: teacher %s was trained on another policy", c.Dir)
	}
	t := NewTeacher(base, st.Offsets)
	ps := &nn.Params{}
	ps.Add(futureName, []int{FutureDim(base.Config(), st.Offsets), base.Config().Hidden}, t.W)
	if err := ps.Load(c); err != nil {
		return nil, "", err
	}
	return t, c.Dir, nil
}

// savedTeacher is a teacher checkpoint's config.
type savedTeacher struct {
	Offsets []int  `json:"offsets"`
	Train   Config `json:"train"`
	Base    string `json:"base_weights_sha256"`
}
