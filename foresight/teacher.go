package foresight

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/policy/flow"
)

var gemm blas.Float32 = openblas.Implementation{}

// futureName is the teacher's one trained parameter: the bias-free
// projection of the future features and mask flag into the head's first
// layer.
const futureName = "teacher.future.w"

// Teacher is the privileged teacher: the frozen policy plus the projection
// of future features.
type Teacher struct {
	Base    *flow.Policy
	Offsets []int
	// W is the projection (FutureDim x Hidden), row-major.
	W []float32
}

// NewTeacher makes a teacher that starts equal to the student (W zero).
func NewTeacher(base *flow.Policy, offsets []int) *Teacher {
	c := base.Config()
	return &Teacher{Base: base, Offsets: offsets, W: make([]float32, FutureDim(c, offsets)*c.Hidden)}
}

// FutureDim is the size of the teacher's future input: one observation
// feature per offset, then the mask flag.
func FutureDim(c flow.ModelConfig, offsets []int) int { return len(offsets)*c.ObsDim() + 1 }

// Future is how a batch's future input is filled.
type Future int

// The ways of filling the future input.
const (
	// Masked is the student's view: zeros and the flag off.
	Masked Future = iota
	// True shows each example the features of its own episode's frames
	// Offsets steps ahead (the last frame past the end).
	True
	// Shuffled shows each example the future of a random other training
	// step (the shuffled-future control), drawn from (seed, step).
	Shuffled
)

// futureInput writes the future input of batch b (b.Size x FutureDim) into
// dst as f says; rng draws the shuffled examples.
func futureInput(dst []float32, ex *flow.Examples, offsets []int, b flow.HeadBatch, f Future, rng *rand.Rand) {
	od := ex.Feature(0, 0)
	fd := len(offsets)*len(od) + 1
	clear(dst[:b.Size*fd])
	if f == Masked {
		return
	}
	for k := 0; k < b.Size; k++ {
		ep, st := b.Episode[k], b.Step[k]
		if f == Shuffled {
			ep, st = ex.At(rng.IntN(ex.Steps()))
		}
		row := dst[k*fd : (k+1)*fd]
		for j, off := range offsets {
			copy(row[j*len(od):], ex.Feature(ep, min(st+off, ex.Len(ep)-1)))
		}
		row[fd-1] = 1
	}
}

// headParams is a parameter set that shares the base policy's head weights
// (the encoder is not needed: heads run on precomputed features).
func headParams(base *flow.Policy) *nn.Params {
	ps := &nn.Params{}
	for _, p := range base.Params().List {
		if strings.HasPrefix(p.Name, "enc") || strings.HasPrefix(p.Name, "aux") {
			continue
		}
		ps.Add(p.Name, p.Shape, p.Data())
	}
	return ps
}

// teacherGraph is the teacher's flow-matching training step on a batch:
// only the projection is trained, the head is the frozen policy's.
type teacherGraph struct {
	prog *nn.Program // training graphs
	vm   G.VM        // forward-only graphs

	xt, temb, obs, ctx, fut, target nn.Input
	v                               *G.Node
}

func newTeacherGraph(t *Teacher, batch int, train bool) (*teacherGraph, error) {
	c := t.Base.Config()
	ps := headParams(t.Base)
	ps.Add(futureName, []int{FutureDim(c, t.Offsets), c.Hidden}, t.W)
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	b := ps.Bind(g)
	tg := &teacherGraph{
		xt: nn.NewInput(g, "xt", batch, c.ChunkDim()), temb: nn.NewInput(g, "temb", batch, c.TimeDim),
		obs: nn.NewInput(g, "obs", batch, c.ObsDim()), ctx: nn.NewInput(g, "ctx", batch, c.CtxDim()),
		fut: nn.NewInput(g, "future", batch, FutureDim(c, t.Offsets)), target: nn.NewInput(g, "target", batch, c.ChunkDim()),
	}
	extra, err := G.Mul(tg.fut.N, b.Node(futureName))
	if err != nil {
		return nil, err
	}
	if tg.v, err = flow.Head(b, c, tg.xt.N, tg.temb.N, tg.obs.N, tg.ctx.N, extra); err != nil {
		return nil, err
	}
	if !train {
		// No loss: gorgonia may compute it in place over v's values.
		tg.vm = G.NewTapeMachine(g)
		return tg, nil
	}
	loss, err := mse(tg.v, tg.target.N)
	if err != nil {
		return nil, err
	}
	if tg.prog, err = nn.Compile(b, ps, loss, func(name string) bool { return name == futureName }); err != nil {
		return nil, fmt.Errorf("foresight: teacher graph: %w", err)
	}
	return tg, nil
}

// forward runs a forward-only graph.
func (tg *teacherGraph) forward() error {
	tg.vm.Reset()
	return tg.vm.RunAll()
}

func (tg *teacherGraph) close() {
	if tg.prog != nil {
		tg.prog.Close()
	}
	if tg.vm != nil {
		tg.vm.Close()
	}
}

func (tg *teacherGraph) load(b flow.HeadBatch, fut []float32) {
	copy(tg.xt.Data(), b.XT)
	copy(tg.temb.Data(), b.Temb)
	copy(tg.obs.Data(), b.Obs)
	copy(tg.ctx.Data(), b.Ctx)
	copy(tg.fut.Data(), fut)
	copy(tg.target.Data(), b.Target)
}

// mse is the mean of (a - b)^2.
func mse(a, b *G.Node) (*G.Node, error) {
	d, err := G.Sub(a, b)
	if err == nil {
		d, err = G.Square(d)
	}
	if err == nil {
		d, err = G.Mean(d)
	}
	return d, err
}

// Velocity is the teacher's velocity for a batch on the inference path;
// fut is the future input (b.Size x FutureDim: Masked gives the student's,
// which is the base policy's velocity exactly).
func (t *Teacher) Velocity(b flow.HeadBatch, fut []float32) ([]float32, error) {
	c := t.Base.Config()
	fd := FutureDim(c, t.Offsets)
	extra := make([]float32, b.Size*c.Hidden)
	gemm.Sgemm(blas.NoTrans, blas.NoTrans, b.Size, c.Hidden, fd, 1, fut, fd, t.W, c.Hidden, 0, extra, c.Hidden)
	return t.Base.Velocity(b.XT, b.Temb, b.Obs, b.Ctx, extra, b.Size)
}
