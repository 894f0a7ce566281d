package slots

import (
	"gonum.org/v1/gonum/blas"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
)

// forward is one passive object's network on one input, owned by one
// goroutine.
type forward interface {
	Run(dst, x []float32)
}

// blasMLP is nn.MLP's forward pass (SiLU after every layer but the last)
// with each layer one OpenBLAS sgemv: on the committed checkpoint's
// 12x128x128x128x3 network it measured 5.5 us a pass against nn.MLP's
// 16-24 us (one core), SiLU's exponentials being most of what is left.
// Its sums run in OpenBLAS's order, so outputs differ from nn.MLP's by
// float32 rounding (TestBLASMLPMatchesMLP). Callers hold an
// openblas.Serial section: the episodes are the parallelism.
type blasMLP struct {
	layers []blasDense
	h0, h1 []float32
}

type blasDense struct {
	w, b    []float32
	in, out int
}

// newBLASMLP reads the layers names (name.w, name.b) from ps, sharing them.
func newBLASMLP(ps *nn.Params, names ...string) *blasMLP {
	m := &blasMLP{}
	width := 0
	for _, name := range names {
		w, b := ps.Get(name+".w"), ps.Get(name+".b")
		m.layers = append(m.layers, blasDense{w: w.Data(), b: b.Data(), in: w.Shape[0], out: w.Shape[1]})
		width = max(width, w.Shape[1])
	}
	m.h0, m.h1 = make([]float32, width), make([]float32, width)
	return m
}

// Run writes the network's output for x into dst.
func (m *blasMLP) Run(dst, x []float32) {
	in := x
	bufs := [2][]float32{m.h0, m.h1}
	for i, l := range m.layers {
		last := i == len(m.layers)-1
		h := bufs[i%2][:l.out]
		if last {
			h = dst[:l.out]
		}
		// h = b + x W, W row-major in x out: W^T x as a gemv.
		copy(h, l.b)
		openblas.Implementation{}.Sgemv(blas.Trans, l.in, l.out, 1, l.w, l.out, in, 1, 1, h, 1)
		if last {
			return
		}
		for j, v := range h {
			h[j] = nn.SiLUf(v)
		}
		in = h
	}
}
