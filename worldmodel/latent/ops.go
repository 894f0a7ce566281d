package latent

import (
	"fmt"
	"hash"
	"hash/fnv"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Two small gorgonia ops on (B,C,H,W) float32 tensors, written as plain
// loops: gorgonia's own Upsample2D reads and writes element by element
// through interfaces and was a fifth of a training step.
//
//	up2:  nearest-neighbour 2x upsampling; its gradient is sum2.
//	sum2: sum over 2x2 blocks (the adjoint of up2); its gradient is up2.
type resample2 struct{ up bool }

func upsample2(x *G.Node) (*G.Node, error) { return G.ApplyOp(resample2{up: true}, x) }

func (op resample2) Arity() int { return 1 }

func (op resample2) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op resample2) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("latent: %v wants a 4-d shape, got %v", op, in[0])
	}
	s = s.Clone()
	if op.up {
		s[2], s[3] = s[2]*2, s[3]*2
	} else {
		if s[2]%2 != 0 || s[3]%2 != 0 {
			return nil, fmt.Errorf("latent: %v of odd size %v", op, s)
		}
		s[2], s[3] = s[2]/2, s[3]/2
	}
	return s, nil
}

func (op resample2) Do(vals ...G.Value) (G.Value, error) {
	in, ok := vals[0].(*tensor.Dense)
	if !ok || in.Dtype() != tensor.Float32 || in.Shape().Dims() != 4 {
		return nil, fmt.Errorf("latent: %v wants a 4-d float32 tensor", op)
	}
	s := in.Shape()
	b, c, h, w := s[0], s[1], s[2], s[3]
	src := in.Data().([]float32)
	if op.up {
		out := make([]float32, b*c*h*w*4)
		w2 := 2 * w
		for p := 0; p < b*c; p++ {
			for y := 0; y < h; y++ {
				row := src[(p*h+y)*w : (p*h+y+1)*w]
				o0 := out[(p*2*h+2*y)*w2 : (p*2*h+2*y+1)*w2]
				for x, v := range row {
					o0[2*x], o0[2*x+1] = v, v
				}
				copy(out[(p*2*h+2*y+1)*w2:(p*2*h+2*y+2)*w2], o0)
			}
		}
		return tensor.New(tensor.WithShape(b, c, 2*h, 2*w), tensor.WithBacking(out)), nil
	}
	h2, ww := h/2, w/2
	out := make([]float32, b*c*h2*ww)
	for p := 0; p < b*c; p++ {
		for y := 0; y < h2; y++ {
			r0 := src[(p*h+2*y)*w : (p*h+2*y+1)*w]
			r1 := src[(p*h+2*y+1)*w : (p*h+2*y+2)*w]
			o := out[(p*h2+y)*ww : (p*h2+y+1)*ww]
			for x := range o {
				o[x] = r0[2*x] + r0[2*x+1] + r1[2*x] + r1[2*x+1]
			}
		}
	}
	return tensor.New(tensor.WithShape(b, c, h2, ww), tensor.WithBacking(out)), nil
}

func (op resample2) ReturnsPtr() bool      { return false }
func (op resample2) CallsExtern() bool     { return false }
func (op resample2) OverwritesInput() int  { return -1 }
func (op resample2) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op resample2) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op resample2) String() string {
	if op.up {
		return "latent.up2"
	}
	return "latent.sum2"
}

// DiffWRT implements gorgonia.SDOp.
func (op resample2) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements gorgonia.SDOp: the gradient is the adjoint op applied
// to the output's gradient.
func (op resample2) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(resample2{up: !op.up}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
