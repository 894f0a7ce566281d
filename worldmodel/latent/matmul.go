package latent

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// matmul is a matrix product with optional transposes of either operand,
// computed exactly as gorgonia's own matrix product with those flags
// (tensor.MatMul on transposed views), so results are bit-identical to
// gorgonia's Conv2d; gorgonia does not export a transposing matmul. Its
// gradient follows gorgonia's rules for the same flags.
type matmul struct{ transA, transB bool }

func (op matmul) Arity() int { return 2 }

func (op matmul) Type() hm.Type {
	t := G.TensorType{Dims: 2, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t, t)
}

func (op matmul) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || a.Dims() != 2 || b.Dims() != 2 {
		return nil, fmt.Errorf("latent: %v wants matrices, got %v %v", op, in[0], in[1])
	}
	m, k := a[0], a[1]
	if op.transA {
		m, k = k, m
	}
	k2, n := b[0], b[1]
	if op.transB {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("latent: %v of %v and %v", op, a, b)
	}
	return tensor.Shape{m, n}, nil
}

func (op matmul) Do(vals ...G.Value) (G.Value, error) {
	a, ok1 := vals[0].(tensor.Tensor)
	b, ok2 := vals[1].(tensor.Tensor)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("latent: %v wants tensors", op)
	}
	if op.transA {
		if err := a.T(); err != nil {
			return nil, err
		}
		defer a.UT()
	}
	if op.transB {
		if err := b.T(); err != nil {
			return nil, err
		}
		defer b.UT()
	}
	return tensor.MatMul(a, b)
}

func (op matmul) ReturnsPtr() bool      { return false }
func (op matmul) CallsExtern() bool     { return false }
func (op matmul) OverwritesInput() int  { return -1 }
func (op matmul) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op matmul) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op matmul) String() string { return fmt.Sprintf("latent.matmul<%t,%t>", op.transA, op.transB) }

// DiffWRT implements gorgonia.SDOp.
func (op matmul) DiffWRT(int) []bool { return []bool{true, true} }

// SymDiff implements gorgonia.SDOp with gorgonia's matrix-product rules.
func (op matmul) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, y := in[0], in[1]
	var dx, dy *G.Node
	var err error
	switch {
	case op.transA && op.transB:
		if dx, err = G.ApplyOp(matmul{true, true}, y, grad); err == nil {
			dy, err = G.ApplyOp(matmul{true, true}, grad, x)
		}
	case !op.transA && op.transB:
		if dx, err = G.ApplyOp(matmul{false, false}, grad, y); err == nil {
			dy, err = G.ApplyOp(matmul{true, false}, grad, x)
		}
	case op.transA && !op.transB:
		if dx, err = G.ApplyOp(matmul{false, true}, y, grad); err == nil {
			dy, err = G.ApplyOp(matmul{false, false}, x, grad)
		}
	default:
		if dx, err = G.ApplyOp(matmul{false, true}, grad, y); err == nil {
			dy, err = G.ApplyOp(matmul{true, false}, x, grad)
		}
	}
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dy}, nil
}

// conv2d is gorgonia's Conv2d (square kernel, equal padding and stride,
// dilation 1) with im2col in place of gorgonia's Im2Col: the same graph
// otherwise, so the same arithmetic.
func conv2d(x, w *G.Node, k, pad, stride int) (*G.Node, error) {
	if !useFastIm2col {
		return G.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}, []int{1, 1})
	}
	col, err := im2colNode(x, k, pad, stride)
	if err != nil {
		return nil, err
	}
	ws := w.Shape()
	layer, z := ws[0], ws[1]*ws[2]*ws[3]
	cs := col.Shape()
	if cs[3] != z {
		return nil, fmt.Errorf("latent: conv of %v with %v", x.Shape(), ws)
	}
	flat, err := G.Reshape(w, tensor.Shape{layer, z})
	if err != nil {
		return nil, err
	}
	batch, m, n := cs[0], cs[1], cs[2]
	patch, err := G.Reshape(col, tensor.Shape{batch * m * n, z})
	if err != nil {
		return nil, err
	}
	prod, err := G.ApplyOp(matmul{transB: true}, patch, flat)
	if err != nil {
		return nil, err
	}
	res, err := G.Reshape(prod, tensor.Shape{batch, m, n, layer})
	if err != nil {
		return nil, err
	}
	return G.ApplyOp(toNCHW{}, res)
}
