package dnnl

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// refConv is a same-padded, stride-1 convolution plus bias in float64 on
// plain NCHW data, with the sum of the terms' magnitudes per output.
func refConv(x, w, b []float32, n, cin, cout, h, wd, k int) (out, mag []float64) {
	out, mag = make([]float64, n*cout*h*wd), make([]float64, n*cout*h*wd)
	p := k / 2
	for bn := 0; bn < n; bn++ {
		for o := 0; o < cout; o++ {
			for y := 0; y < h; y++ {
				for xo := 0; xo < wd; xo++ {
					i := ((bn*cout+o)*h+y)*wd + xo
					out[i], mag[i] = float64(b[o]), math.Abs(float64(b[o]))
					for c := 0; c < cin; c++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := y+ky-p, xo+kx-p
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								v := float64(w[((o*cin+c)*k+ky)*k+kx]) * float64(x[((bn*cin+c)*h+iy)*wd+ix])
								out[i] += v
								mag[i] += math.Abs(v)
							}
						}
					}
				}
			}
		}
	}
	return out, mag
}

// A Builder chains layers from a channels-last input without reorders
// between them (where oneDNN has channels-last kernels, as for AVX2 and
// AVX-512), moves the staged weights in with Prep, and computes the
// layers' composition, a residual block after a first layer:
// y = relu(y1 + conv3(relu(conv2(y1)))), y1 = conv1(x), the third layer
// summing into y1's buffer. Within 1e-4 of the largest output: three
// float32 layers of K = 72 terms round to about 1e-6 of their magnitudes;
// a misplaced weight or channel is off by whole terms.
func TestBuilderChain(t *testing.T) {
	const n, c, h, w, k = 2, 8, 6, 7, 3
	rng := rand.New(rand.NewPCG(7, 7))
	x := random(rng, n*c*h*w)
	var ws, bs [3][]float32
	for i := range ws {
		ws[i], bs[i] = random(rng, c*c*k*k), random(rng, c)
	}
	b, err := NewBuilder("chain")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	xm := b.Memory("x", MustDesc(NHWC, n, c, h, w))
	conv := func(posts ...PostOp) Conv {
		return Conv{Weights: MustDesc(Any, c, c, k, k), Dst: MustDesc(Any, n, c, h, w), Bias: true,
			PadL: [2]int{1, 1}, PadR: [2]int{1, 1}, PostOps: posts}
	}
	l1 := b.Conv("conv1", conv(), xm, nil)
	var l2, l3 *Layer
	if l1 != nil {
		l2 = b.Conv("conv2", conv(ReLU(0)), l1.Dst, nil)
	}
	if l2 != nil {
		l3 = b.Conv("conv3", conv(Sum(1), ReLU(0)), l2.Dst, l1.Dst)
	}
	var y *Memory
	if l3 != nil {
		y = b.As("y", l3.Dst, MustDesc(NCHW, n, c, h, w))
	}
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	for i, l := range []*Layer{l1, l2, l3} {
		copy(l.Weights, ws[i])
		copy(l.Bias, bs[i])
	}
	if err := b.Prep().Run(); err != nil {
		t.Fatal(err)
	}
	xs := xm.Float32s()
	for bn := 0; bn < n; bn++ {
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				xs[(bn*h*w+p)*c+ch] = x[(bn*c+ch)*h*w+p]
			}
		}
	}
	if err := b.Plan().Run(); err != nil {
		t.Fatal(err)
	}
	toF32 := func(v []float64, relu bool) []float32 {
		out := make([]float32, len(v))
		for i, f := range v {
			if relu {
				f = max(f, 0)
			}
			out[i] = float32(f)
		}
		return out
	}
	y1, _ := refConv(x, ws[0], bs[0], n, c, c, h, w, k)
	a, _ := refConv(toF32(y1, false), ws[1], bs[1], n, c, c, h, w, k)
	r, _ := refConv(toF32(a, true), ws[2], bs[2], n, c, c, h, w, k)
	worst, top := 0.0, 0.0
	for i, g := range y.Float32s() {
		want := max(y1[i]+r[i], 0)
		worst, top = max(worst, math.Abs(float64(g)-want)), max(top, math.Abs(want))
	}
	t.Logf("max |error| %.3g of max |y| %.3g", worst, top)
	if worst > 1e-4*top {
		t.Errorf("max |error| %g of max |y| %g", worst, top)
	}
	reorders := 0
	for _, op := range b.Plan().Ops() {
		t.Logf("%-8s %-26s %s -> %s", op.Name(), op.Impl(), op.Src(), op.Dst())
		if strings.HasSuffix(op.Name(), " src") {
			reorders++
		}
	}
	if impl := l1.Op.Impl(); reorders > 0 && strings.Contains(impl, "avx") {
		t.Errorf("%d reorders between %s layers", reorders, impl)
	}
}

// A dense residual block as the flow policy's head runs it: h = swish(x
// W1 + b1), then y = h + swish(h W2 + b2) with h copied into y's buffer
// and summed by the second layer's Sum post-op; weights staged as in x out
// rows. Within 1e-4 of the largest output (two float32 layers of at most
// 40 terms round to about 1e-6 of their magnitudes; a transposed weight
// or a missing residual is off by whole terms).
func TestBuilderDenseResidual(t *testing.T) {
	const n, in, hid = 3, 40, 24
	rng := rand.New(rand.NewPCG(9, 9))
	x, w1, b1, w2, b2 := random(rng, n*in), random(rng, in*hid), random(rng, hid), random(rng, hid*hid), random(rng, hid)
	b, err := NewBuilder("dense")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mx := b.Memory("x", MustDesc(NC, n, in))
	h := b.Memory("h", MustDesc(NC, n, hid))
	y := b.Memory("y", MustDesc(NC, n, hid))
	l1 := b.Dense("l1", InnerProduct{Weights: MustDesc(Any, hid, in), Bias: true, PostOps: []PostOp{Swish(1)}}, mx, h)
	b.Copy("residual", h, y)
	l2 := b.Dense("l2", InnerProduct{Weights: MustDesc(Any, hid, hid), Bias: true, PostOps: []PostOp{Swish(1), Sum(1)}}, h, y)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	copy(mx.Float32s(), x)
	copy(l1.Weights, w1)
	copy(l1.Bias, b1)
	copy(l2.Weights, w2)
	copy(l2.Bias, b2)
	if err := b.Prep().Run(); err != nil {
		t.Fatal(err)
	}
	if err := b.Plan().Run(); err != nil {
		t.Fatal(err)
	}
	swish := func(v float64) float64 { return v / (1 + math.Exp(-v)) }
	dense := func(x []float64, w, bias []float32, k, o int) []float64 {
		out := make([]float64, n*o)
		for r := range n {
			for j := range o {
				s := float64(bias[j])
				for i := range k {
					s += x[r*k+i] * float64(w[i*o+j])
				}
				out[r*o+j] = swish(s)
			}
		}
		return out
	}
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	h64 := dense(x64, w1, b1, in, hid)
	r64 := dense(h64, w2, b2, hid, hid)
	var worst, top float64
	for i, got := range y.Float32s() {
		want := h64[i] + r64[i]
		worst, top = max(worst, math.Abs(float64(got)-want)), max(top, math.Abs(want))
	}
	t.Logf("max |oneDNN - float64| = %.3g of max %.3g", worst, top)
	if worst > 1e-4*top {
		t.Errorf("max |oneDNN - float64| = %g, max |y| = %g", worst, top)
	}
}

// Two strided views of plain buffers and a Copy between them move every
// element as the views say: here the depth-to-space shuffle of a
// sub-pixel convolution, (n, h, w, [2, 2, c]) channels last to
// (n, 2h, 2w, c). Exact: a reorder copies floats.
func TestBuilderViewDepthToSpace(t *testing.T) {
	const n, h, w, c = 2, 3, 5, 3
	b, err := NewBuilder("d2s")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	z := b.Memory("z", MustDesc(NHWC, n, 4*c, h, w))
	y := b.Memory("y", MustDesc(NHWC, n, c, 2*h, 2*w))
	dims := []int{n, 2, 2, c, h, w} // n, row phase, column phase, channel, i, j
	from, err := NewStridedDesc(dims, []int{h * w * 4 * c, 2 * c, c, 1, w * 4 * c, 4 * c})
	if err != nil {
		t.Fatal(err)
	}
	to, err := NewStridedDesc(dims, []int{4 * h * w * c, 2 * w * c, c, 1, 4 * w * c, 2 * c})
	if err != nil {
		t.Fatal(err)
	}
	b.Copy("d2s", b.View("z 6d", z, from), b.View("y 6d", y, to))
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	zs := z.Float32s()
	for i := range zs {
		zs[i] = float32(i)
	}
	if err := b.Plan().Run(); err != nil {
		t.Fatal(err)
	}
	ys := y.Float32s()
	for bn := 0; bn < n; bn++ {
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				for a := 0; a < 2; a++ {
					for bb := 0; bb < 2; bb++ {
						for ch := 0; ch < c; ch++ {
							want := zs[((bn*h+i)*w+j)*4*c+(a*2+bb)*c+ch]
							got := ys[((bn*2*h+2*i+a)*2*w+2*j+bb)*c+ch]
							if got != want {
								t.Fatalf("y[%d, %d, %d, %d] = %v, want z[%d, %d, %d, phase %d%d, %d] = %v", bn, 2*i+a, 2*j+bb, ch, got, bn, i, j, a, bb, ch, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestBuilderViewErrors(t *testing.T) {
	b, err := NewBuilder("view errors")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	small := b.Memory("small", MustDesc(NC, 2, 3))
	if _, err := NewStridedDesc([]int{2, 3}, []int{3}); !errors.Is(err, ErrInvalidArguments) {
		t.Errorf("strides of another rank: %v, want ErrInvalidArguments", err)
	}
	if b.View("too big", small, MustDesc(NC, 3, 3)) != nil || !errors.Is(b.Err(), ErrInvalidArguments) {
		t.Errorf("a view larger than its buffer: %v, want ErrInvalidArguments", b.Err())
	}
}

// Softmax over the last axis of (rows, n), in place and into another
// buffer, matches exp(x - max)/sum in float64: within 1e-6 relative per
// probability (float32's exp and sum of 200 terms), and each row sums to
// 1; a softmax over the wrong axis is off by orders of magnitude.
func TestBuilderSoftmax(t *testing.T) {
	const rows, n = 6, 200
	rng := rand.New(rand.NewPCG(5, 5))
	x := random(rng, rows*n)
	for i := range x {
		x[i] *= 8 // logits spread over e^16, as keypoint planes are
	}
	tests := []struct {
		name    string
		inPlace bool
	}{{"into another buffer", false}, {"in place", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBuilder("softmax")
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			src := b.Memory("x", MustDesc(NC, rows, n))
			dst := src
			if !tc.inPlace {
				dst = b.Memory("p", MustDesc(NC, rows, n))
			}
			b.Softmax("softmax", src, dst, 1)
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			copy(src.Float32s(), x)
			if err := b.Plan().Run(); err != nil {
				t.Fatal(err)
			}
			got := dst.Float32s()
			for r := 0; r < rows; r++ {
				row := x[r*n : (r+1)*n]
				mx := float64(row[0])
				for _, v := range row {
					mx = max(mx, float64(v))
				}
				sum := 0.0
				for _, v := range row {
					sum += math.Exp(float64(v) - mx)
				}
				for i, v := range row {
					want := math.Exp(float64(v)-mx) / sum
					if d := math.Abs(float64(got[r*n+i]) - want); d > 1e-6*want+1e-12 {
						t.Fatalf("row %d, %d: %v, want %v", r, i, got[r*n+i], want)
					}
				}
			}
		})
	}
	b, err := NewBuilder("softmax errors")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	m := b.Memory("x", MustDesc(NC, rows, n))
	if b.Softmax("axis", m, m, 2); !errors.Is(b.Err(), ErrInvalidArguments) {
		t.Errorf("softmax over axis 2 of a 2-D tensor: %v, want ErrInvalidArguments", b.Err())
	}
}
