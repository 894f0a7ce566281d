package foresight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/policy/flow"
)

// Mode says what the adapter is distilled from.
type Mode string

// The adapter's training modes: the method and its two controls.
const (
	// ModeForesight distils the teacher that sees the true future.
	ModeForesight Mode = "foresight"
	// ModeShuffled distils the same teacher shown the future of a random
	// other training step.
	ModeShuffled Mode = "shuffled"
	// ModeNone trains the adapter on the ground-truth loss alone.
	ModeNone Mode = "none"
)

// Config configures the teacher's and an adapter's training.
type Config struct {
	Mode Mode `json:"mode"`
	// Offsets are the future frames the teacher sees, in steps ahead.
	Offsets []int         `json:"offsets"`
	Adapter AdapterConfig `json:"adapter_model"`
	// Steps, Batch, LR (cosine decay to LR*LRFinal after a warm-up) of the
	// adapter.
	Steps   int     `json:"steps"`
	Batch   int     `json:"batch"`
	LR      float64 `json:"lr"`
	LRFinal float64 `json:"lr_final"`
	// TeacherSteps and TeacherLR train the teacher's projection (same
	// batch size).
	TeacherSteps int     `json:"teacher_steps"`
	TeacherLR    float64 `json:"teacher_lr"`
	// Loss weights (docs/references.md section 5: 1, 0.5, 0.1); ModeNone uses
	// WeightGT alone.
	WeightGT      float64 `json:"weight_gt"`
	WeightRes     float64 `json:"weight_res"`
	WeightTeacher float64 `json:"weight_teacher"`
	Seed          uint64  `json:"seed"`
	// HeldOut holds one episode in HeldOut out of training (by a hash of
	// its id) for the held-out losses; EvalBatches of Batch examples are
	// measured there.
	HeldOut     int `json:"held_out"`
	EvalBatches int `json:"eval_batches"`
	// CheckpointEvery steps a checkpoint is written; the newest Keep are
	// kept (0: all).
	CheckpointEvery int `json:"checkpoint_every"`
	Keep            int `json:"keep"`
}

// DefaultConfig is the PushT setting: each adapter trains in a few minutes
// on two shared cores.
func DefaultConfig() Config {
	return Config{Mode: ModeForesight, Offsets: []int{8, 16}, Adapter: AdapterConfig{Hidden: 128, Layers: 2},
		Steps: 20000, Batch: 256, LR: 1e-3, LRFinal: 0.05, TeacherSteps: 6000, TeacherLR: 1e-3,
		WeightGT: 1, WeightRes: 0.5, WeightTeacher: 0.1, Seed: 1, HeldOut: 10, EvalBatches: 20,
		CheckpointEvery: 1000, Keep: 1}
}

// ErrConfig reports a configuration that cannot work.
var ErrConfig = errors.New("foresight: bad configuration")

func (c Config) validate() error {
	switch {
	case c.Mode != ModeForesight && c.Mode != ModeShuffled && c.Mode != ModeNone:
		return fmt.Errorf("%w: mode %q (foresight, shuffled, none)", ErrConfig, c.Mode)
	case len(c.Offsets) == 0:
		return fmt.Errorf("%w: no future offsets", ErrConfig)
	case c.Steps < 0 || c.TeacherSteps < 0 || c.Batch <= 0 || c.LR <= 0 || c.TeacherLR <= 0 || c.CheckpointEvery <= 0:
		return fmt.Errorf("%w: steps %d, teacher steps %d, batch %d, lr %v/%v, checkpoint every %d",
			ErrConfig, c.Steps, c.TeacherSteps, c.Batch, c.LR, c.TeacherLR, c.CheckpointEvery)
	case c.HeldOut < 2 || c.EvalBatches <= 0:
		return fmt.Errorf("%w: held out 1 in %d, %d eval batches", ErrConfig, c.HeldOut, c.EvalBatches)
	}
	for _, o := range c.Offsets {
		if o <= 0 {
			return fmt.Errorf("%w: future offset %d", ErrConfig, o)
		}
	}
	return nil
}

// Split divides examples into training and held-out episodes (one in
// heldOut, by a hash of the episode id, so the split does not depend on the
// store's order).
func Split(ex *flow.Examples, heldOut int) (train, held *flow.Examples) {
	out := func(id string) bool {
		h := fnv.New32a()
		h.Write([]byte(id))
		return h.Sum32()%uint32(heldOut) == 0
	}
	return ex.Subset(func(id string) bool { return !out(id) }), ex.Subset(out)
}

// Progress is reported after every training step and for messages.
type Progress struct {
	Stage          string // "teacher" or "adapter"
	Step, Steps    int
	Loss, LastLoss float64 // Loss is a moving average
	LR             float64
	ExamplesPerSec float64
	ETA            time.Duration
	Checkpoint     string
	Message        string
}

// lr is a linear warm-up (a tenth of the steps, at most 100), then a cosine
// decay to base*final.
func lr(base, final float64, step, steps int) float64 {
	f := 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(max(1, steps))))
	v := base * (final + (1-final)*f)
	if warm := min(100, steps/10); step < warm {
		v *= float64(step+1) / float64(warm)
	}
	return v
}

// loop runs steps [from, to) of a training stage: step(s) returns the
// loss and gradients of step s, save(s, ema) writes a checkpoint.
func loop(ctx context.Context, stage string, from, to, batch int, cfg Config, report func(Progress),
	step func(s int) (float64, [][]float32, error), update func(grads [][]float32, lr float64),
	rate func(s int) float64, save func(s int, ema float64) (string, error)) error {
	start := time.Now()
	ema := math.NaN()
	for s := from; s < to; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		loss, grads, err := step(s)
		if err != nil {
			return fmt.Errorf("foresight: %s step %d: %w", stage, s, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("foresight: %s training diverged at step %d (loss %v)", stage, s, loss)
		}
		r := rate(s)
		update(grads, r)
		if math.IsNaN(ema) {
			ema = loss
		} else {
			ema = 0.98*ema + 0.02*loss
		}
		el := time.Since(start)
		done := s + 1 - from
		p := Progress{Stage: stage, Step: s + 1, Steps: to, Loss: ema, LastLoss: loss, LR: r,
			ExamplesPerSec: float64(done*batch) / el.Seconds(),
			ETA:            time.Duration(float64(el) / float64(done) * float64(to-s-1))}
		if (s+1)%cfg.CheckpointEvery == 0 || s+1 == to {
			if p.Checkpoint, err = save(s+1, ema); err != nil {
				return err
			}
		}
		report(p)
	}
	return nil
}

// TrainTeacher trains the teacher's projection on train by flow matching
// with the true future (the head stays frozen), writing checkpoints to
// outDir and resuming from its latest. With no steps left it loads it.
func TrainTeacher(ctx context.Context, train *flow.Examples, base *flow.Policy, cfg Config, outDir string, report func(Progress)) (*Teacher, string, error) {
	if err := cfg.validate(); err != nil {
		return nil, "", err
	}
	if report == nil {
		report = func(Progress) {}
	}
	defer openblas.Serial()()
	t := NewTeacher(base, cfg.Offsets)
	tg, err := newTeacherGraph(t, cfg.Batch, true)
	if err != nil {
		return nil, "", err
	}
	defer tg.close()
	ps := &nn.Params{}
	ps.Add(futureName, []int{FutureDim(base.Config(), cfg.Offsets), base.Config().Hidden}, t.W)
	opt := nn.NewAdam(ps)
	from, last := 0, ""
	if c, err := checkpoint.Read(outDir, TeacherFormat, FormatVersion, true); err == nil {
		var st savedTeacher
		if err := json.Unmarshal(c.Config, &st); err != nil || !equalInts(st.Offsets, cfg.Offsets) {
			return nil, "", fmt.Errorf("foresight: %s holds a teacher of other offsets (%v); use another directory", outDir, st.Offsets)
		}
		if err := ps.Load(c); err != nil {
			return nil, "", err
		}
		if c.Optimizer != nil && !opt.Restore(c.Optimizer, c.Step) {
			return nil, "", fmt.Errorf("%w: %s: optimizer state of the wrong size", checkpoint.ErrCorrupt, c.Dir)
		}
		from, last = c.Step, c.Dir
		report(Progress{Stage: "teacher", Step: from, Steps: cfg.TeacherSteps, Message: fmt.Sprintf("teacher resumed from %s at step %d", c.Dir, from)})
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, "", err
	}
	manifest, err := json.MarshalIndent(train.Manifest(), "", " ")
	if err != nil {
		return nil, "", err
	}
	fut := make([]float32, cfg.Batch*FutureDim(base.Config(), cfg.Offsets))
	err = loop(ctx, "teacher", from, cfg.TeacherSteps, cfg.Batch, cfg, report,
		func(s int) (float64, [][]float32, error) {
			b := train.Batch(cfg.Seed, s, cfg.Batch)
			futureInput(fut, train, cfg.Offsets, b, True, nil)
			tg.load(b, fut)
			loss, grads, err := tg.prog.Run()
			if err != nil {
				return 0, nil, err
			}
			// The program's parameters are the head's then the projection;
			// only the projection has a gradient.
			return loss, grads[len(grads)-1:], nil
		},
		func(grads [][]float32, r float64) { opt.Update(ps, grads, r, 0) },
		func(s int) float64 { return lr(cfg.TeacherLR, cfg.LRFinal, s, cfg.TeacherSteps) },
		func(s int, ema float64) (string, error) {
			conf, err := json.Marshal(savedTeacher{Offsets: cfg.Offsets, Train: cfg, Base: base.Describe()["weights_sha256"]})
			if err != nil {
				return "", err
			}
			c := &checkpoint.Checkpoint{Meta: checkpoint.Meta{Format: TeacherFormat, Version: FormatVersion, Step: s,
				Created: time.Now().UTC(), Config: conf, DataHash: train.Manifest().Hash, Loss: ema},
				Weights: ps.Tensors(), Optimizer: opt.Flat(), Manifest: manifest}
			path, err := checkpoint.Save(outDir, teacherPrefix, c)
			if err != nil {
				return "", fmt.Errorf("foresight: teacher checkpoint: %w", err)
			}
			checkpoint.Prune(outDir, teacherPrefix, cfg.Keep)
			last = path
			return path, nil
		})
	return t, last, err
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// adapterGraph is one adapter training step.
type adapterGraph struct {
	prog                  *nn.Program
	vb, temb, r, vt, u    nn.Input
	obs                   nn.Input // when the adapter reads observations
	g                     *G.Node
	wGT, wRes, wTeach     float64
	hasTeacher            bool
	chunk, tdim, batchLen int
}

func newAdapterGraph(a *Adapter, batch int, cfg Config) (*adapterGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	b := a.ps.Bind(g)
	ag := &adapterGraph{hasTeacher: cfg.Mode != ModeNone, chunk: a.chunk, tdim: a.tdim, batchLen: batch}
	ag.vb = nn.NewInput(g, "v_base", batch, a.chunk)
	ag.temb = nn.NewInput(g, "temb", batch, a.tdim)
	ag.u = nn.NewInput(g, "target", batch, a.chunk)
	var err error
	if a.odim > 0 {
		ag.obs = nn.NewInput(g, "obs", batch, a.odim)
	}
	if ag.g, err = a.graph(b, ag.vb.N, ag.temb.N, ag.obs.N); err != nil {
		return nil, err
	}
	vf, err := G.Add(ag.vb.N, ag.g)
	if err != nil {
		return nil, err
	}
	loss, err := weighted(vf, ag.u.N, cfg.WeightGT)
	if err != nil {
		return nil, err
	}
	if ag.hasTeacher {
		ag.r = nn.NewInput(g, "residual", batch, a.chunk)
		ag.vt = nn.NewInput(g, "v_teacher", batch, a.chunk)
		for _, term := range []struct {
			x, y *G.Node
			w    float64
		}{{ag.g, ag.r.N, cfg.WeightRes}, {vf, ag.vt.N, cfg.WeightTeacher}} {
			l, err := weighted(term.x, term.y, term.w)
			if err == nil {
				loss, err = G.Add(loss, l)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if ag.prog, err = nn.Compile(b, a.ps, loss, func(string) bool { return true }); err != nil {
		return nil, fmt.Errorf("foresight: adapter graph: %w", err)
	}
	return ag, nil
}

func weighted(x, y *G.Node, w float64) (*G.Node, error) {
	l, err := mse(x, y)
	if err != nil {
		return nil, err
	}
	return G.Mul(l, G.NewConstant(float32(w)))
}

// distilBatch is what one adapter step needs beyond the head batch: the
// student's and teacher's velocities.
type distilBatch struct {
	b      flow.HeadBatch
	vb, vt []float32
	temb   []float32
}

// prepare computes the velocities of step s's batch: the student's, and
// the teacher's shown the future as mode says (nil for ModeNone).
func prepare(ex *flow.Examples, base *flow.Policy, t *Teacher, cfg Config, mode Mode, seed uint64, s int) (distilBatch, error) {
	b := ex.Batch(seed, s, cfg.Batch)
	c := base.Config()
	d := distilBatch{b: b, temb: make([]float32, b.Size*c.TimeDim)}
	var err error
	if d.vb, err = base.Velocity(b.XT, b.Temb, b.Obs, b.Ctx, nil, b.Size); err != nil {
		return d, err
	}
	// The adapter's time embedding has the head's size (it is the same).
	copy(d.temb, b.Temb)
	if mode == ModeNone || t == nil {
		return d, nil
	}
	fut := make([]float32, b.Size*FutureDim(c, t.Offsets))
	f := True
	if mode == ModeShuffled {
		f = Shuffled
	}
	futureInput(fut, ex, t.Offsets, b, f, rand.New(rand.NewPCG(seed^0x73687566, uint64(s)+1)))
	d.vt, err = t.Velocity(b, fut)
	return d, err
}

func (ag *adapterGraph) load(d distilBatch) {
	copy(ag.vb.Data(), d.vb)
	copy(ag.temb.Data(), d.temb)
	copy(ag.u.Data(), d.b.Target)
	if ag.obs.N != nil {
		copy(ag.obs.Data(), d.b.Obs)
	}
	if ag.hasTeacher {
		copy(ag.vt.Data(), d.vt)
		r := ag.r.Data()
		for i := range r {
			r[i] = d.vt[i] - d.vb[i] // stopgrad: an input, not a node
		}
	}
}

// Result is what TrainAdapter did.
type Result struct {
	Checkpoint string `json:"checkpoint"`
	Steps      int    `json:"steps"`
	// ResumedAt is the step this run started from (Steps: nothing to do).
	ResumedAt int `json:"resumed_at"`
	// Before and After are the held-out losses of the untrained (zero)
	// adapter and the trained one.
	Before Losses `json:"before"`
	After  Losses `json:"after"`
}

// TrainAdapter trains an adapter for base on train as cfg.Mode says,
// writing checkpoints to outDir and resuming from its latest, and measures
// the held-out losses before and after. The teacher may be nil only for
// ModeNone, whose training never uses it (given, it is measured against).
func TrainAdapter(ctx context.Context, train, held *flow.Examples, base *flow.Policy, t *Teacher, teacherDir string,
	cfg Config, outDir string, report func(Progress)) (*Adapter, Result, error) {
	var res Result
	if err := cfg.validate(); err != nil {
		return nil, res, err
	}
	if cfg.Mode != ModeNone && t == nil {
		return nil, res, fmt.Errorf("%w: mode %s needs a teacher", ErrConfig, cfg.Mode)
	}
	if report == nil {
		report = func(Progress) {}
	}
	defer openblas.Serial()()
	a, err := NewAdapter(base, cfg.Adapter, cfg.Seed)
	if err != nil {
		return nil, res, err
	}
	opt := nn.NewAdam(a.ps)
	from := 0
	if c, err := checkpoint.Read(outDir, AdapterFormat, FormatVersion, true); err == nil {
		var sa savedAdapter
		if err := json.Unmarshal(c.Config, &sa); err != nil || sa.Train.Mode != cfg.Mode || sa.Adapter != cfg.Adapter {
			return nil, res, fmt.Errorf("foresight: %s holds another adapter (mode %q, %+v); use another directory", outDir, sa.Train.Mode, sa.Adapter)
		}
		if err := a.ps.Load(c); err != nil {
			return nil, res, err
		}
		if c.Optimizer != nil && !opt.Restore(c.Optimizer, c.Step) {
			return nil, res, fmt.Errorf("%w: %s: optimizer state of the wrong size", checkpoint.ErrCorrupt, c.Dir)
		}
		from, res.Checkpoint, res.ResumedAt = c.Step, c.Dir, c.Step
		report(Progress{Stage: "adapter", Step: from, Steps: cfg.Steps, Message: fmt.Sprintf("adapter resumed from %s at step %d", c.Dir, from)})
	} else if !errors.Is(err, checkpoint.ErrNone) {
		return nil, res, err
	}
	zero, err := NewAdapter(base, cfg.Adapter, cfg.Seed)
	if err != nil {
		return nil, res, err
	}
	if res.Before, err = Measure(held, base, t, zero, cfg); err != nil {
		return nil, res, err
	}
	report(Progress{Stage: "adapter", Step: from, Steps: cfg.Steps, Message: "held out, zero adapter: " + res.Before.String()})
	ag, err := newAdapterGraph(a, cfg.Batch, cfg)
	if err != nil {
		return nil, res, err
	}
	defer ag.prog.Close()
	manifest, err := json.MarshalIndent(train.Manifest(), "", " ")
	if err != nil {
		return nil, res, err
	}
	// Batches (both velocities) are prepared one step ahead, beside the
	// graph's run.
	type prepared struct {
		d   distilBatch
		err error
	}
	next := make(chan prepared, 2)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(next)
		for s := from; s < cfg.Steps; s++ {
			d, err := prepare(train, base, t, cfg, cfg.Mode, cfg.Seed, s)
			select {
			case next <- prepared{d, err}:
			case <-pctx.Done():
				return
			}
		}
	}()
	err = loop(ctx, "adapter", from, cfg.Steps, cfg.Batch, cfg, report,
		func(int) (float64, [][]float32, error) {
			p, ok := <-next
			if !ok {
				return 0, nil, context.Canceled
			}
			if p.err != nil {
				return 0, nil, p.err
			}
			ag.load(p.d)
			return ag.prog.Run()
		},
		func(grads [][]float32, r float64) { opt.Update(a.ps, grads, r, 0) },
		func(s int) float64 { return lr(cfg.LR, cfg.LRFinal, s, cfg.Steps) },
		func(s int, ema float64) (string, error) {
			conf, err := json.Marshal(savedAdapter{Adapter: cfg.Adapter, Train: cfg,
				Base: base.Describe()["weights_sha256"], Teacher: teacherDir})
			if err != nil {
				return "", err
			}
			c := &checkpoint.Checkpoint{Meta: checkpoint.Meta{Format: AdapterFormat, Version: FormatVersion, Step: s,
				Created: time.Now().UTC(), Config: conf, DataHash: train.Manifest().Hash, Loss: ema},
				Weights: a.ps.Tensors(), Optimizer: opt.Flat(), Manifest: manifest}
			path, err := checkpoint.Save(outDir, adapterPrefix, c)
			if err != nil {
				return "", fmt.Errorf("foresight: adapter checkpoint: %w", err)
			}
			checkpoint.Prune(outDir, adapterPrefix, cfg.Keep)
			res.Checkpoint = path
			return path, nil
		})
	if err != nil {
		return a, res, err
	}
	res.Steps = cfg.Steps
	if res.After, err = Measure(held, base, t, a, cfg); err != nil {
		return a, res, err
	}
	report(Progress{Stage: "adapter", Step: cfg.Steps, Steps: cfg.Steps, Message: "held out, trained adapter: " + res.After.String()})
	return a, res, nil
}

// Losses are mean squared errors per action value on held-out examples.
type Losses struct {
	Examples int `json:"examples"`
	// FlowBase, FlowTeacher and FlowAdapted are the flow-matching losses
	// |v - u|^2 of the base policy, the true-future teacher and the adapted
	// policy.
	FlowBase    float64 `json:"flow_base"`
	FlowTeacher float64 `json:"flow_teacher,omitempty"`
	FlowAdapted float64 `json:"flow_adapted"`
	// Residual is |g - r|^2 against the true-future teacher's residual
	// r = v_teacher - v_base; ResidualZero is |r|^2 (what g = 0 scores).
	Residual     float64 `json:"residual,omitempty"`
	ResidualZero float64 `json:"residual_zero,omitempty"`
}

func (l Losses) String() string {
	return fmt.Sprintf("flow loss base %.5f teacher %.5f adapted %.5f; residual %.5f (zero adapter %.5f)",
		l.FlowBase, l.FlowTeacher, l.FlowAdapted, l.Residual, l.ResidualZero)
}

// Measure computes the held-out losses of adapter a over cfg.EvalBatches
// fixed batches of held; the teacher terms are measured against the
// true-future teacher t (nil: none).
func Measure(held *flow.Examples, base *flow.Policy, t *Teacher, a *Adapter, cfg Config) (Losses, error) {
	var l Losses
	if held.Episodes() == 0 {
		return l, fmt.Errorf("foresight: no held-out episodes")
	}
	mode := ModeForesight
	if t == nil {
		mode = ModeNone
	}
	var n float64
	for s := 0; s < cfg.EvalBatches; s++ {
		d, err := prepare(held, base, t, cfg, mode, cfg.Seed+1_000_003, s)
		if err != nil {
			return l, err
		}
		g := make([]float32, len(d.vb))
		for k := 0; k < d.b.Size; k++ {
			row := k * a.chunk
			od := len(d.b.Obs) / d.b.Size
			a.Correction(g[row:row+a.chunk], d.vb[row:row+a.chunk], d.b.Obs[k*od:(k+1)*od], d.b.T[k], 1)
		}
		for i, u := range d.b.Target {
			vb, gi := float64(d.vb[i]), float64(g[i])
			l.FlowBase += sq(vb - float64(u))
			l.FlowAdapted += sq(vb + gi - float64(u))
			if d.vt != nil {
				vt := float64(d.vt[i])
				l.FlowTeacher += sq(vt - float64(u))
				l.Residual += sq(gi - (vt - vb))
				l.ResidualZero += sq(vt - vb)
			}
			n++
		}
		l.Examples += d.b.Size
	}
	l.FlowBase /= n
	l.FlowTeacher /= n
	l.FlowAdapted /= n
	l.Residual /= n
	l.ResidualZero /= n
	return l, nil
}

func sq(x float64) float64 { return x * x }
