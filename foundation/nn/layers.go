package nn

import (
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Linear is x (B, in) times name.w (in, out) plus name.b.
func (b *Bound) Linear(name string, x *G.Node) (*G.Node, error) {
	y, err := G.Mul(x, b.Node(name+".w"))
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(y, b.Node(name+".b"), nil, []byte{0})
}

// Conv is a same-padded convolution of x (B, C, H, W) with name.w and name.b
// at stride.
func (b *Bound) Conv(name string, x *G.Node, stride int) (*G.Node, error) {
	w := b.Node(name + ".w")
	k := w.Shape()[2]
	y, err := G.Conv2d(x, w, tensor.Shape{k, k}, []int{k / 2, k / 2}, []int{stride, stride}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	bias, err := G.Reshape(b.Node(name+".b"), tensor.Shape{1, w.Shape()[0], 1, 1})
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(y, bias, nil, []byte{0, 2, 3})
}

// SiLU is x * sigmoid(x).
func SiLU(x *G.Node) (*G.Node, error) {
	s, err := G.Sigmoid(x)
	if err != nil {
		return nil, err
	}
	return G.HadamardProd(x, s)
}
