package latent

import (
	"fmt"
	"hash"
	"hash/fnv"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// im2col and its adjoint col2im on (B,C,H,W) float32 tensors, for square
// kernels with dilation 1. The output layout and values are exactly those
// of gorgonia's Im2Col: (B, OH, OW, C*K*K), the last axis ordered
// (channel, kernel row, kernel column). gorgonia's version computes every
// element through bounds checks in a scalar loop and was the largest single
// cost of a convolution; this one copies from a zero-padded image without
// branches.
//
// col2im adds the columns back in the same order gorgonia's does (so every
// pixel receives its contributions in the same sequence, starting from
// zero) and therefore gives bit-identical gradients.
type im2col struct {
	k, pad, stride int
	// Input shape; used by col2im (im2col reads it from its input).
	b, c, h, w int
	back       bool // col2im
}

// useFastIm2col selects im2col over gorgonia's Im2Col in the net's
// convolutions (the tests turn it off to compare).
var useFastIm2col = true

func im2colNode(x *G.Node, k, pad, stride int) (*G.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("latent: im2col wants a 4-d input, got %v", s)
	}
	return G.ApplyOp(im2col{k: k, pad: pad, stride: stride, b: s[0], c: s[1], h: s[2], w: s[3]}, x)
}

func (op im2col) outHW() (int, int) {
	return (op.h+2*op.pad-op.k)/op.stride + 1, (op.w+2*op.pad-op.k)/op.stride + 1
}

func (op im2col) Arity() int { return 1 }

func (op im2col) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op im2col) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("latent: %v wants a 4-d shape, got %v", op, in[0])
	}
	oh, ow := op.outHW()
	if op.back {
		if s[0] != op.b || s[1] != oh || s[2] != ow || s[3] != op.c*op.k*op.k {
			return nil, fmt.Errorf("latent: %v of shape %v", op, s)
		}
		return tensor.Shape{op.b, op.c, op.h, op.w}, nil
	}
	if s[0] != op.b || s[1] != op.c || s[2] != op.h || s[3] != op.w {
		return nil, fmt.Errorf("latent: %v of shape %v", op, s)
	}
	return tensor.Shape{op.b, oh, ow, op.c * op.k * op.k}, nil
}

func (op im2col) Do(vals ...G.Value) (G.Value, error) {
	in, ok := vals[0].(*tensor.Dense)
	if !ok || in.Dtype() != tensor.Float32 || in.Shape().Dims() != 4 {
		return nil, fmt.Errorf("latent: %v wants a 4-d float32 tensor", op)
	}
	src := in.Data().([]float32)
	oh, ow := op.outHW()
	kk := op.c * op.k * op.k
	if op.back {
		if len(src) != op.b*oh*ow*kk {
			return nil, fmt.Errorf("latent: %v of shape %v", op, in.Shape())
		}
		out := make([]float32, op.b*op.c*op.h*op.w)
		op.col2im(src, out)
		return tensor.New(tensor.WithShape(op.b, op.c, op.h, op.w), tensor.WithBacking(out)), nil
	}
	if len(src) != op.b*op.c*op.h*op.w {
		return nil, fmt.Errorf("latent: %v of shape %v", op, in.Shape())
	}
	out := make([]float32, op.b*oh*ow*kk)
	op.im2col(src, out)
	return tensor.New(tensor.WithShape(op.b, oh, ow, kk), tensor.WithBacking(out)), nil
}

// padded sizes of one channel plane.
func (op im2col) paddedHW() (int, int) { return op.h + 2*op.pad, op.w + 2*op.pad }

func (op im2col) im2col(im, col []float32) { op.perExample(op.im2colRange, im, col) }

func (op im2col) col2im(col, im []float32) { op.perExample(op.col2imRange, col, im) }

// perExample runs f on the examples of the batch, split across up to
// GOMAXPROCS goroutines (examples are independent, so the split does not
// change any value).
func (op im2col) perExample(f func(b0, b1 int, src, dst []float32), src, dst []float32) {
	workers := min(runtime.GOMAXPROCS(0), op.b)
	if workers <= 1 {
		f(0, op.b, src, dst)
		return
	}
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		b0, b1 := i*op.b/workers, (i+1)*op.b/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(b0, b1, src, dst)
		}()
	}
	wg.Wait()
}

func (op im2col) im2colRange(b0, b1 int, im, col []float32) {
	k, s, c := op.k, op.stride, op.c
	oh, ow := op.outHW()
	ph, pw := op.paddedHW()
	pim := make([]float32, c*ph*pw) // one example, zero-padded
	plane := ph * pw
	for b := b0; b < b1; b++ {
		src := im[b*c*op.h*op.w : (b+1)*c*op.h*op.w]
		for ch := 0; ch < c; ch++ {
			for y := 0; y < op.h; y++ {
				copy(pim[ch*plane+(y+op.pad)*pw+op.pad:][:op.w], src[(ch*op.h+y)*op.w:][:op.w])
			}
		}
		dst := col[b*oh*ow*c*k*k : (b+1)*oh*ow*c*k*k]
		i := 0
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				base := oy*s*pw + ox*s
				switch k {
				case 3:
					for ch := 0; ch < c; ch++ {
						r := pim[ch*plane+base:]
						r0, r1, r2 := r[:3:3], r[pw:pw+3:pw+3], r[2*pw:2*pw+3:2*pw+3]
						d := dst[i : i+9 : i+9]
						d[0], d[1], d[2] = r0[0], r0[1], r0[2]
						d[3], d[4], d[5] = r1[0], r1[1], r1[2]
						d[6], d[7], d[8] = r2[0], r2[1], r2[2]
						i += 9
					}
				case 1:
					d := dst[i : i+c : i+c]
					for ch := range d {
						d[ch] = pim[ch*plane+base]
					}
					i += c
				default:
					for ch := 0; ch < c; ch++ {
						for ky := 0; ky < k; ky++ {
							copy(dst[i:i+k], pim[ch*plane+base+ky*pw:][:k])
							i += k
						}
					}
				}
			}
		}
	}
}

func (op im2col) col2imRange(b0, b1 int, col, im []float32) {
	k, s, c := op.k, op.stride, op.c
	oh, ow := op.outHW()
	ph, pw := op.paddedHW()
	plane := ph * pw
	pim := make([]float32, c*plane)
	for b := b0; b < b1; b++ {
		clear(pim)
		src := col[b*oh*ow*c*k*k : (b+1)*oh*ow*c*k*k]
		i := 0
		// Same order as gorgonia's col2im: output row, output column,
		// channel, kernel row, kernel column.
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				base := oy*s*pw + ox*s
				switch k {
				case 3:
					for ch := 0; ch < c; ch++ {
						r := pim[ch*plane+base:]
						r0, r1, r2 := r[:3:3], r[pw:pw+3:pw+3], r[2*pw:2*pw+3:2*pw+3]
						d := src[i : i+9 : i+9]
						r0[0] += d[0]
						r0[1] += d[1]
						r0[2] += d[2]
						r1[0] += d[3]
						r1[1] += d[4]
						r1[2] += d[5]
						r2[0] += d[6]
						r2[1] += d[7]
						r2[2] += d[8]
						i += 9
					}
				default:
					for ch := 0; ch < c; ch++ {
						for ky := 0; ky < k; ky++ {
							r := pim[ch*plane+base+ky*pw:][:k]
							for kx := range r {
								r[kx] += src[i+kx]
							}
							i += k
						}
					}
				}
			}
		}
		dst := im[b*c*op.h*op.w : (b+1)*c*op.h*op.w]
		for ch := 0; ch < c; ch++ {
			for y := 0; y < op.h; y++ {
				copy(dst[(ch*op.h+y)*op.w:][:op.w], pim[ch*plane+(y+op.pad)*pw+op.pad:][:op.w])
			}
		}
	}
}

func (op im2col) ReturnsPtr() bool      { return false }
func (op im2col) CallsExtern() bool     { return false }
func (op im2col) OverwritesInput() int  { return -1 }
func (op im2col) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op im2col) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op im2col) String() string {
	name := "latent.im2col"
	if op.back {
		name = "latent.col2im"
	}
	return fmt.Sprintf("%s<k%d p%d s%d %dx%dx%dx%d>", name, op.k, op.pad, op.stride, op.b, op.c, op.h, op.w)
}

// DiffWRT implements gorgonia.SDOp.
func (op im2col) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements gorgonia.SDOp: the gradient is the adjoint op applied
// to the output's gradient.
func (op im2col) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	adj := op
	adj.back = !op.back
	d, err := G.ApplyOp(adj, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

// toNCHW permutes (B,H,W,C) to (B,C,H,W) (back: the inverse), as
// gorgonia's Transpose(x, 0, 3, 1, 2) does, but with plain strided loops
// instead of gorgonia's element iterator. A pure permutation: values are
// unchanged. Its gradient is the inverse permutation.
type toNCHW struct{ back bool }

func (op toNCHW) Arity() int { return 1 }

func (op toNCHW) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}

func (op toNCHW) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("latent: %v wants a 4-d shape, got %v", op, in[0])
	}
	if op.back {
		return tensor.Shape{s[0], s[2], s[3], s[1]}, nil
	}
	return tensor.Shape{s[0], s[3], s[1], s[2]}, nil
}

func (op toNCHW) Do(vals ...G.Value) (G.Value, error) {
	in, ok := vals[0].(*tensor.Dense)
	if !ok || in.Dtype() != tensor.Float32 || in.Shape().Dims() != 4 || in.RequiresIterator() {
		return nil, fmt.Errorf("latent: %v wants a 4-d float32 tensor", op)
	}
	s := in.Shape()
	src := in.Data().([]float32)
	out := make([]float32, len(src))
	if op.back {
		// (B,C,P) -> (B,P,C)
		b, c, p := s[0], s[1], s[2]*s[3]
		for i := 0; i < b; i++ {
			sb, ob := src[i*c*p:(i+1)*c*p], out[i*c*p:(i+1)*c*p]
			for ch := 0; ch < c; ch++ {
				row := sb[ch*p : (ch+1)*p]
				for j, v := range row {
					ob[j*c+ch] = v
				}
			}
		}
		return tensor.New(tensor.WithShape(b, s[2], s[3], c), tensor.WithBacking(out)), nil
	}
	// (B,P,C) -> (B,C,P)
	b, p, c := s[0], s[1]*s[2], s[3]
	for i := 0; i < b; i++ {
		sb, ob := src[i*c*p:(i+1)*c*p], out[i*c*p:(i+1)*c*p]
		for ch := 0; ch < c; ch++ {
			row := ob[ch*p : (ch+1)*p]
			for j := range row {
				row[j] = sb[j*c+ch]
			}
		}
	}
	return tensor.New(tensor.WithShape(b, c, s[1], s[2]), tensor.WithBacking(out)), nil
}

func (op toNCHW) ReturnsPtr() bool      { return false }
func (op toNCHW) CallsExtern() bool     { return false }
func (op toNCHW) OverwritesInput() int  { return -1 }
func (op toNCHW) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op toNCHW) Hashcode() uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

func (op toNCHW) String() string {
	if op.back {
		return "latent.toNHWC"
	}
	return "latent.toNCHW"
}

// DiffWRT implements gorgonia.SDOp.
func (op toNCHW) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements gorgonia.SDOp.
func (op toNCHW) SymDiff(_ G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(toNCHW{back: !op.back}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}
