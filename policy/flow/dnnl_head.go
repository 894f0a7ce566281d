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
// activations. One plan run per Euler step, on one core. Built once per
// (policy, rows) with a copy of the weights (a policy's weights are
// read-only once it exists: Params) and reused; a step allocates nothing.
type dnnlHead struct {
	rows int
	b    *dnnl.Builder
	x, v []float32 // views: the input rows (rows x in) and the velocity (rows x ChunkDim)
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

// newDnnlHead builds the head for rows rows with layers' weights.
func newDnnlHead(layers []dense, rows int) (_ *dnnlHead, err error) {
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
	first, last := layers[0], layers[len(layers)-1]
	x := b.Memory("x", dnnl.MustDesc(dnnl.NC, rows, first.in))
	cur, next := b.Memory("h", dnnl.MustDesc(dnnl.NC, rows, first.out)), b.Memory("h'", dnnl.MustDesc(dnnl.NC, rows, first.out))
	v := b.Memory("v", dnnl.MustDesc(dnnl.NC, rows, last.out))
	add := func(name string, l dense, src, dst *dnnl.Memory, posts ...dnnl.PostOp) {
		ip := dnnl.InnerProduct{Weights: dnnl.MustDesc(dnnl.Any, l.out, l.in), Bias: true, PostOps: posts}
		if dl := b.Dense(name, ip, src, dst); dl != nil {
			copy(dl.Weights, l.w)
			copy(dl.Bias, l.b)
		}
	}
	add("in", first, x, cur, dnnl.Swish(1))
	for i, l := range layers[1 : len(layers)-1] {
		name := fmt.Sprintf("h%d", i+1)
		b.Copy(name+" residual", cur, next)
		add(name, l, cur, next, dnnl.Swish(1), dnnl.Sum(1))
		cur, next = next, cur
	}
	add("out", last, cur, v)
	if err := b.Err(); err != nil {
		return nil, err
	}
	if err := b.Prep().Run(); err != nil {
		return nil, err
	}
	h.x, h.v = x.Float32s(), v.Float32s()
	return h, nil
}

func (h *dnnlHead) input() []float32       { return h.x }
func (h *dnnlHead) velocity() []float32    { return h.v }
func (h *dnnlHead) forward(rows int) error { return h.b.Plan().Run() }

// Close frees the oneDNN resources; closing twice is a no-op.
func (h *dnnlHead) Close() error {
	h.x, h.v = nil, nil
	return h.b.Close()
}

// acquireHead is a oneDNN head for rows rows (at least), or an error
// (oneDNN given up in default mode, or the policy closed).
func (p *Policy) acquireHead(rows int, layers []dense) (*dnnlHead, error) {
	if err := p.heads.givenUp(); err != nil {
		return nil, err
	}
	r := dnnlHeadRows(rows)
	h, ok, err := p.heads.Get(r)
	if err != nil {
		return nil, errors.New("flow: policy closed")
	}
	if ok {
		return h, nil
	}
	h, err = newDnnlHead(layers, r)
	if err != nil && p.Inference == "" {
		p.heads.giveUp(err)
	}
	return h, err
}

func (p *Policy) releaseHead(h *dnnlHead) { p.heads.Put(h.rows, h) }
