package latent

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"dreamrank/foundation/openblas"
)

// Building blocks of the inference-only forward path (fastnet.go).
//
// Layout: every activation is channel-major over the whole batch ("CNHW"):
// channel c of image b, pixel (y, x) is at c*P + b*h*w + y*w + x, where P
// = B*h*w is the plane length. That is the layout a gemm W(Cout x K) *
// col(K x P) produces, so a layer's output is the next layer's input with
// no transpose; channel concatenation is free (a producer writes its planes
// into the consumer's buffer at a channel offset); bias and activation are
// one constant per contiguous plane. The columns matrix uses gorgonia's K
// order (channel, kernel row, kernel column), so the checkpoint's
// (out, in, kh, kw) weights are the gemm's left operand as stored.

// planes is a channel-major activation: channel c starts at data[c*ld].
type planes struct {
	data []float32
	ld   int // plane length B*h*w (or more)
	h, w int // per image
}

// channel returns the plane of channel c.
func (p planes) channel(c int) []float32 { return p.data[c*p.ld : c*p.ld+p.ld] }

// convGeom is one convolution's geometry (square kernel, equal padding and
// stride, dilation 1).
type convGeom struct {
	cin, cout, k, stride, pad int
	h, w                      int // input size per image
}

func (g convGeom) outHW() (int, int) {
	return (g.h+2*g.pad-g.k)/g.stride + 1, (g.w+2*g.pad-g.k)/g.stride + 1
}

// kdim is the gemm's inner dimension.
func (g convGeom) kdim() int { return g.cin * g.k * g.k }

// im2colRows writes the columns of output rows [r0, r1) (rows counted over
// the batch: row r is image r/oh, output row r%oh) of input channels
// src[c0:c0+cin] into col (kdim x n, n = (r1-r0)*ow, row-major). Padding
// reads as zero.
func im2colRows(g convGeom, src planes, c0 int, r0, r1 int, col []float32) {
	if g.stride == 1 {
		im2colStride1(g, src, c0, r0, r1, col)
		return
	}
	oh, ow := g.outHW()
	n := (r1 - r0) * ow
	hw := g.h * g.w
	if g.k == 3 && g.pad == 1 && g.stride == 2 && g.w == 2*ow {
		im2colStride2(g, src, c0, r0, r1, col)
		return
	}
	for ci := 0; ci < g.cin; ci++ {
		plane := src.channel(c0 + ci)
		for ky := 0; ky < g.k; ky++ {
			for kx := 0; kx < g.k; kx++ {
				dst := col[((ci*g.k+ky)*g.k+kx)*n:][:n]
				for r := r0; r < r1; r++ {
					b, oy := r/oh, r%oh
					row := dst[(r-r0)*ow:][:ow]
					iy := oy*g.stride + ky - g.pad
					if iy < 0 || iy >= g.h {
						clear(row)
						continue
					}
					in := plane[b*hw+iy*g.w:][:g.w]
					shiftRow(row, in, kx-g.pad, g.stride)
				}
			}
		}
	}
}

// im2colStride1 is im2colRows for stride 1 with "same" padding (output
// size = input size). Within one image, the row of kernel tap (ky, kx) is
// the image's plane shifted by (ky-pad)*w + kx-pad elements: one copy per
// image and tap, then zeros where the shift wrapped around a row edge or
// left the image. Short per-row copies cost more than the data moved.
// Channels are the inner loop, so that geometry is worked out once per tap
// and image, not per channel.
func im2colStride1(g convGeom, src planes, c0 int, r0, r1 int, col []float32) {
	h, w := g.h, g.w
	hw := h * w
	n := (r1 - r0) * w
	kk := g.k * g.k
	for ky := 0; ky < g.k; ky++ {
		dy := ky - g.pad
		for kx := 0; kx < g.k; kx++ {
			dx := kx - g.pad
			tap := ky*g.k + kx
			// One image's run of output rows [ra, rb) at a time; it fills
			// [o0, o1) of every column row.
			for ra := r0; ra < r1; {
				b, oya := ra/h, ra%h
				rb := min(r1, (b+1)*h)
				oyb := oya + rb - ra
				o0, o1 := (ra-r0)*w, (rb-r0)*w
				// Output rows whose source row iy = oy+dy is inside.
				va, vb := max(oya, -dy), min(oyb, h-dy)
				if va >= vb {
					for ci := 0; ci < g.cin; ci++ {
						clear(col[(ci*kk+tap)*n:][o0:o1])
					}
					ra = rb
					continue
				}
				// [s0, s0+hi) of a row is the image from element first on,
				// minus [s0, s0+lo) where that starts before the image and
				// the end past it: edge columns, zeroed below.
				s0, s1 := o0+(va-oya)*w, o0+(vb-oya)*w
				first := (va+dy)*w + dx
				lo, hi := max(0, -first), min(s1-s0, hw-first)
				for ci := 0; ci < g.cin; ci++ {
					row := col[(ci*kk+tap)*n:][:n]
					clear(row[o0 : s0+lo])
					copy(row[s0+lo:s0+hi], src.channel(c0 + ci)[b*hw+first+lo:])
					clear(row[s0+hi : o1])
					// Columns whose source x+dx is outside the row (one
					// or two per row: stores, not clear calls).
					seg := row[s0:s1]
					if dx < 0 {
						for y := 0; y < len(seg); y += w {
							for x := range seg[y : y-dx] {
								seg[y+x] = 0
							}
						}
					} else if dx > 0 {
						for y := w - dx; y < len(seg); y += w {
							for x := range seg[y : y+dx] {
								seg[y+x] = 0
							}
						}
					}
				}
				ra = rb
			}
		}
	}
}

// im2colStride2 is im2colRows for the encoder's 3x3 stride-2 convolutions
// of even-sized images (output half the size): tight loops per tap instead
// of shiftRow's general bounds.
func im2colStride2(g convGeom, src planes, c0 int, r0, r1 int, col []float32) {
	oh, ow := g.outHW()
	w, hw := g.w, g.h*g.w
	n := (r1 - r0) * ow
	for ci := 0; ci < g.cin; ci++ {
		plane := src.channel(c0 + ci)
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				dst := col[((ci*3+ky)*3+kx)*n:][:n]
				for r := r0; r < r1; r++ {
					b, oy := r/oh, r%oh
					row := dst[(r-r0)*ow:][:ow]
					iy := 2*oy + ky - 1
					if iy < 0 || iy >= g.h {
						clear(row)
						continue
					}
					in := plane[b*hw+iy*w:][:w]
					switch kx {
					case 0: // in[2x-1]: x = 0 reads the padding
						row[0] = 0
						for x := 1; x < ow; x++ {
							row[x] = in[2*x-1]
						}
					case 1:
						for x := range row {
							row[x] = in[2*x]
						}
					case 2:
						for x := range row {
							row[x] = in[2*x+1]
						}
					}
				}
			}
		}
	}
}

// shiftRow sets row[x] = in[x*stride+off], zero where that is outside in.
func shiftRow(row, in []float32, off, stride int) {
	ow, w := len(row), len(in)
	// x0..x1 are the x whose source is inside in.
	x0 := 0
	if off < 0 {
		x0 = (-off + stride - 1) / stride
	}
	x1 := 0
	if w-1-off >= 0 {
		x1 = min(ow, (w-1-off)/stride+1)
	}
	x0 = min(x0, ow)
	x1 = max(x1, x0)
	clear(row[:x0])
	clear(row[x1:])
	if stride == 1 {
		copy(row[x0:x1], in[x0+off:])
		return
	}
	for x := x0; x < x1; x++ {
		row[x] = in[x*stride+off]
	}
}

// sgemm computes c = a (m x k) * b (k x n), row-major with leading
// dimensions, in OpenBLAS (gonum's argument checks panic on misuse before
// any pointer reaches C).
func sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	openblas.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
}

// leak is the leaky ReLU's negative slope (as the graph's LeakyRelu).
const leak = float32(0.1)

// lrelu is x*leak for x < 0, else x. A plain branch: neighbouring
// activations mostly share a sign, so it predicts well; the branch-free
// versions tried (Go's float max; selecting by the sign bit) made the
// epilogues 2-3x slower.
func lrelu(x float32) float32 {
	if x < 0 {
		return x * leak
	}
	return x
}

// biasLeaky sets v = lrelu(v + bias) on n values of each of the planes
// out[c*ld+off:], as the graph's BroadcastAdd then LeakyRelu.
func biasLeaky(out []float32, ld, off, n int, bias []float32) {
	for c, b := range bias {
		v := out[c*ld+off:][:n]
		for i, x := range v {
			x += b
			v[i] = lrelu(x)
		}
	}
}

// residualLeaky sets h = lrelu(h + (y + bias)) on n values of each plane
// from off (the end of a residual block).
func residualLeaky(h []float32, y []float32, ld, off, n int, bias []float32) {
	for c, b := range bias {
		hv := h[c*ld+off:][:n]
		yv := y[c*ld+off:][:n]
		for i, x := range yv {
			x = hv[i] + (x + b)
			hv[i] = lrelu(x)
		}
	}
}

// upsample2Into writes the nearest-neighbour 2x upsampling of channels
// src[0:c] into dst channels [c0, c0+c) (dst images are twice the size).
func upsample2Into(dst planes, c0 int, src planes, c, batch int) {
	h, w := src.h, src.w
	w2 := 2 * w
	for ch := 0; ch < c; ch++ {
		s, d := src.channel(ch), dst.channel(c0+ch)
		for b := 0; b < batch; b++ {
			si, di := s[b*h*w:], d[b*4*h*w:]
			for y := 0; y < h; y++ {
				row := si[y*w:][:w]
				o0 := di[2*y*w2:][:w2]
				for x, v := range row {
					o0[2*x], o0[2*x+1] = v, v
				}
				copy(di[(2*y+1)*w2:][:w2], o0)
			}
		}
	}
}

// checkConv reports weights that do not match the geometry.
func checkConv(name string, g convGeom, wt, bias []float32) error {
	if len(wt) != g.cout*g.kdim() || len(bias) != g.cout {
		return fmt.Errorf("latent: %s: %d weights and %d biases for %+v", name, len(wt), len(bias), g)
	}
	return nil
}
