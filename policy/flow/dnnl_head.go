package flow

import (
	"errors"
	"fmt"
	"math/bits"

	"dreamrank/foundation/dnnl"
)

// dnnlHead is the flow head through oneDNN for a fixed number of rows: one
// inner product per layer over all rows with the bias and SiLU fused, and
// for each residual layer the sum too (the stream copied into the layer's
// output buffer, then added by a Sum post-op): no pass of Go over the
// activations. An MLPAdapter runs in the same plan after the head (its
// first layer split at the velocity's rows of its weights: v W_v + b in
// one inner product, then [temb | obs] W_t summed in and SiLU by the next;
// its output summed onto a copy of the velocity). One plan run per Euler
// step, on one core. Built once per (policy, rows, adapter) with a copy of
// the weights (a policy's weights are read-only once it exists: Params)
// and reused; a step allocates nothing.
type dnnlHead struct {
	rows    int
	adapter *float32 // the fused adapter's identity (adapterID), or nil
	b       *dnnl.Builder
	// Views: the input rows (rows x in), the adapter's [temb | obs] rows
	// (nil without one) and the velocity (rows x ChunkDim), adapted.
	x, t, v []float32
}

// The oneDNN head serves groups of at least minDnnlHeadRows rows; smaller
// ones (batch 1 with guidance: 2 rows) run on OpenBLAS, for which oneDNN's
// hand-off of every run to a runner thread (about 15 us) and its kernels
// for two rows are too slow. Measured (BenchmarkHeadPass, the pose
// checkpoints' head, 2-core VM at load 5), CPU microseconds per row and
// step, OpenBLAS with Go's epilogues against oneDNN: 2 rows 37 vs 44, 4
// rows 62 vs 31, 8 rows 48 vs 22, 16 rows 46 vs 19, 64 rows 34 vs 19.
const minDnnlHeadRows = 4

// dnnlHeadRows is the plan size that serves rows rows: the next power of
// two, so that a server seeing every batch size builds a few plans (each
// holds its own copy of the weights); the padding rows compute nothing
// anyone reads.
func dnnlHeadRows(rows int) int { return 1 << bits.Len(uint(rows-1)) }

// newDnnlHead builds the head for rows rows with layers' weights, and a's
// inside when a is not nil.
func newDnnlHead(layers []Dense, a MLPAdapter, rows int) (_ *dnnlHead, err error) {
	b, err := dnnl.NewBuilder(fmt.Sprintf("flow head r%d", rows))
	if err != nil {
		return nil, fmt.Errorf("flow: oneDNN: %w", err)
	}
	h := &dnnlHead{rows: rows, b: b}
	defer func() {
		if err != nil {
			h.Close()
			err = fmt.Errorf("flow: oneDNN head for %d rows: %w", rows, err)
		}
	}()
	nc := func(name string, cols int) *dnnl.Memory { return b.Memory(name, dnnl.MustDesc(dnnl.NC, rows, cols)) }
	add := func(name string, l Dense, src, dst *dnnl.Memory, posts ...dnnl.PostOp) {
		ip := dnnl.InnerProduct{Weights: dnnl.MustDesc(dnnl.Any, l.Out, l.In), Bias: l.B != nil, PostOps: posts}
		if dl := b.Dense(name, ip, src, dst); dl != nil {
			copy(dl.Weights, l.W)
			copy(dl.Bias, l.B)
		}
	}
	first, last := layers[0], layers[len(layers)-1]
	x, cur, next := nc("x", first.In), nc("h", first.Out), nc("h'", first.Out)
	add("in", first, x, cur, dnnl.Swish(1))
	for i, l := range layers[1 : len(layers)-1] {
		name := fmt.Sprintf("h%d", i+1)
		b.Copy(name+" residual", cur, next)
		add(name, l, cur, next, dnnl.Swish(1), dnnl.Sum(1))
		cur, next = next, cur
	}
	v := nc("v", last.Out)
	add("out", last, cur, v)
	var t *dnnl.Memory
	if a != nil {
		mlp := a.MLP()
		in, cd := mlp[0], last.Out
		h.adapter = adapterID(a)
		t = nc("adapter t", in.In-cd)
		g := nc("adapter h0", in.Out)
		add("adapter.in v", Dense{W: in.W[:cd*in.Out], B: in.B, In: cd, Out: in.Out}, v, g)
		add("adapter.in t", Dense{W: in.W[cd*in.Out:], In: in.In - cd, Out: in.Out}, t, g, dnnl.Sum(1), dnnl.Swish(1))
		for i, l := range mlp[1 : len(mlp)-1] {
			gn := nc(fmt.Sprintf("adapter h%d", i+1), l.Out)
			add(fmt.Sprintf("adapter.h%d", i+1), l, g, gn, dnnl.Swish(1))
			g = gn
		}
		adapted := nc("v adapted", cd)
		b.Copy("adapter residual", v, adapted)
		add("adapter.out", mlp[len(mlp)-1], g, adapted, dnnl.Sum(1))
		v = adapted
	}
	if err := b.Err(); err != nil {
		return nil, err
	}
	if err := b.Prep().Run(); err != nil {
		return nil, err
	}
	h.x, h.v = x.Float32s(), v.Float32s()
	if t != nil {
		h.t = t.Float32s()
	}
	return h, nil
}

func (h *dnnlHead) input() []float32        { return h.x }
func (h *dnnlHead) velocity() []float32     { return h.v }
func (h *dnnlHead) adapterInput() []float32 { return h.t }
func (h *dnnlHead) forward(rows int) error  { return h.b.Plan().Run() }

// Close frees the oneDNN resources; closing twice is a no-op.
func (h *dnnlHead) Close() error {
	h.x, h.t, h.v = nil, nil, nil
	return h.b.Close()
}

// acquireHead is a oneDNN head for rows rows (at least) with a inside
// (nil: none), or an error (oneDNN given up in default mode, or the policy
// closed).
func (p *Policy) acquireHead(rows int, a MLPAdapter) (*dnnlHead, error) {
	if err := p.heads.givenUp(); err != nil {
		return nil, err
	}
	r := dnnlHeadRows(rows)
	h, ok, err := p.heads.Get(r)
	if err != nil {
		return nil, errors.New("flow: policy closed")
	}
	if ok && h.adapter == adapterID(a) {
		return h, nil
	}
	if ok { // built for another adapter
		h.Close()
	}
	h, err = newDnnlHead(p.layers, a, r)
	if err != nil && p.Inference == "" {
		p.heads.giveUp(err)
	}
	return h, err
}

// adapterID is what tells one fused adapter from another: where its first
// weight is (adapters share their weights, never copy them).
func adapterID(a MLPAdapter) *float32 {
	if a == nil {
		return nil
	}
	return &a.MLP()[0].W[0]
}

func (p *Policy) releaseHead(h *dnnlHead) { p.heads.Put(h.rows, h) }
