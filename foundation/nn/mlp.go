package nn

// MLP is the inference-only forward pass, in plain Go, of a stack of dense
// layers added with AddLinear: SiLU after every layer but the last. Models
// that step one example at a time (imagined rollouts) use it instead of a
// graph, so a prediction never depends on its batch. It is not safe for
// concurrent use (it owns its scratch buffers); make one per goroutine.
type MLP struct {
	layers []dense
	h0, h1 []float32
}

type dense struct {
	w, b    []float32
	in, out int
}

// NewMLP reads the layers names (each name.w and name.b) from ps, in
// order; their values are shared, not copied.
func NewMLP(ps *Params, names ...string) *MLP {
	m := &MLP{}
	width := 0
	for _, name := range names {
		w, b := ps.Get(name+".w"), ps.Get(name+".b")
		d := dense{w: w.Data(), b: b.Data(), in: w.Shape[0], out: w.Shape[1]}
		m.layers = append(m.layers, d)
		width = max(width, d.out)
	}
	m.h0, m.h1 = make([]float32, width), make([]float32, width)
	return m
}

// Out is the width of the last layer.
func (m *MLP) Out() int { return m.layers[len(m.layers)-1].out }

// Run writes the network's output for x into dst (at least Out() long).
func (m *MLP) Run(dst, x []float32) {
	in := x
	bufs := [2][]float32{m.h0, m.h1}
	for i, l := range m.layers {
		if i == len(m.layers)-1 {
			l.apply(dst, in)
			return
		}
		h := bufs[i%2][:l.out]
		l.apply(h, in)
		for j, v := range h {
			h[j] = SiLUf(v)
		}
		in = h
	}
}

// apply computes y = x W + b into dst (row-major W of in x out), in the
// order gorgonia's graph sums, so results stay close to training's.
func (d dense) apply(dst, x []float32) {
	copy(dst[:d.out], d.b)
	for i := 0; i < d.in; i++ {
		xi := x[i]
		row := d.w[i*d.out : (i+1)*d.out]
		for j, w := range row {
			dst[j] += xi * w
		}
	}
}
