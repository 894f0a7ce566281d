package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Builder wraps gorgonia's error-returning ops so a graph reads like the
// math; the first error sticks in Err and later ops return nil.
type Builder struct {
	G   *G.ExprGraph
	Err error
}

// Op runs f unless an earlier op failed.
func (b *Builder) Op(f func() (*G.Node, error)) *G.Node {
	if b.Err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		b.Err = err
	}
	return n
}

func (b *Builder) Add(x, y *G.Node) *G.Node {
	return b.Op(func() (*G.Node, error) { return G.Add(x, y) })
}

func (b *Builder) Sub(x, y *G.Node) *G.Node {
	return b.Op(func() (*G.Node, error) { return G.Sub(x, y) })
}

// Mul is the element-wise product.
func (b *Builder) Mul(x, y *G.Node) *G.Node {
	return b.Op(func() (*G.Node, error) { return G.HadamardProd(x, y) })
}

// Scale multiplies by a constant.
func (b *Builder) Scale(x *G.Node, k float64) *G.Node {
	return b.Op(func() (*G.Node, error) { return G.Mul(x, G.NewConstant(float32(k))) })
}

func (b *Builder) Sin(x *G.Node) *G.Node { return b.Op(func() (*G.Node, error) { return G.Sin(x) }) }
func (b *Builder) Cos(x *G.Node) *G.Node { return b.Op(func() (*G.Node, error) { return G.Cos(x) }) }

// Column selects column j of an (batch, n) node as (batch, 1).
func (b *Builder) Column(x *G.Node, j, n int) *G.Node {
	sel := make([]float32, n)
	sel[j] = 1
	c := G.NewConstant(tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(sel)))
	return b.Op(func() (*G.Node, error) { return G.Mul(x, c) })
}

// Concat joins nodes along axis.
func (b *Builder) Concat(axis int, xs ...*G.Node) *G.Node {
	return b.Op(func() (*G.Node, error) { return G.Concat(axis, xs...) })
}

// MeanSquare is the mean of the squared elements of x.
func (b *Builder) MeanSquare(x *G.Node) *G.Node {
	sq := b.Op(func() (*G.Node, error) { return G.Square(x) })
	return b.Op(func() (*G.Node, error) { return G.Mean(sq) })
}

// MLP applies the dense layers names (added with AddLinear) to x, SiLU
// after every layer but the last: the graph twin of MLP.Run.
func (b *Builder) MLP(bound *Bound, x *G.Node, names ...string) *G.Node {
	h := x
	for i, name := range names {
		h = b.Op(func() (*G.Node, error) { return bound.Linear(name, h) })
		if i < len(names)-1 {
			h = b.Op(func() (*G.Node, error) { return SiLU(h) })
		}
	}
	return h
}
