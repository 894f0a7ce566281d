package nn

import "math"

// Adam is the Adam optimizer's state for one parameter set.
type Adam struct {
	M, V [][]float32
	// Steps is the number of updates done (for bias correction).
	Steps int
}

// NewAdam makes zero state for ps.
func NewAdam(ps *Params) *Adam {
	a := &Adam{}
	for _, p := range ps.List {
		a.M = append(a.M, make([]float32, len(p.Data())))
		a.V = append(a.V, make([]float32, len(p.Data())))
	}
	return a
}

// Update applies one Adam step with learning rate lr to ps given grads (in
// ps order), then zeroes grads: gorgonia accumulates into gradient values.
// weightDecay is decoupled (AdamW), 0 for none. A nil gradient freezes its
// parameter: neither its weights nor its moments change.
func (a *Adam) Update(ps *Params, grads [][]float32, lr, weightDecay float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	t := float64(a.Steps + 1)
	c1 := 1 - math.Pow(b1, t)
	c2 := 1 - math.Pow(b2, t)
	step := float32(lr / c1)
	decay := float32(1 - lr*weightDecay)
	for i, p := range ps.List {
		if grads[i] == nil {
			continue
		}
		w := p.Data()
		m, v, g := a.M[i], a.V[i], grads[i]
		for j := range w {
			gj := g[j]
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			w[j] = w[j]*decay - step*m[j]/(float32(math.Sqrt(float64(v[j])/c2))+eps)
		}
		clear(g)
	}
	a.Steps++
}

// Flat returns M then V, concatenated, for a checkpoint.
func (a *Adam) Flat() []float32 {
	var out []float32
	for _, m := range a.M {
		out = append(out, m...)
	}
	for _, v := range a.V {
		out = append(out, v...)
	}
	return out
}

// Restore sets M and V from Flat's layout; false if the size is wrong.
func (a *Adam) Restore(flat []float32, steps int) bool {
	total := 0
	for _, m := range a.M {
		total += len(m)
	}
	if len(flat) != 2*total {
		return false
	}
	for _, part := range [][][]float32{a.M, a.V} {
		for _, x := range part {
			copy(x, flat[:len(x)])
			flat = flat[len(x):]
		}
	}
	a.Steps = steps
	return true
}
