package dnnl

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// eps32 is float32's unit roundoff.
const eps32 = 1.0 / (1 << 24)

func newEngine(t *testing.T) *Engine {
	t.Helper()
	eng, err := NewEngine()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := eng.Close(); err != nil {
			t.Error(err)
		}
	})
	return eng
}

func newPlan(t *testing.T, eng *Engine, name string) *Plan {
	t.Helper()
	p, err := eng.NewPlan(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func random(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// edge adds a reorder from a plain memory to the layout want (or returns
// the plain memory when it already is).
func edge(t *testing.T, eng *Engine, p *Plan, name string, from *Memory, want Desc) *Memory {
	t.Helper()
	if from.Desc().Equal(want) {
		return from
	}
	m := must[*Memory](t)(p.Memory(name, want))
	reorder(t, eng, p, name, from, m)
	return m
}

// reorder adds a reorder from src to dst.
func reorder(t *testing.T, eng *Engine, p *Plan, name string, src, dst *Memory) {
	t.Helper()
	op := must[*Op](t)(eng.Reorder(name, src.Desc(), dst.Desc()))
	if err := p.Add(op, Args{Src: src, Dst: dst}); err != nil {
		t.Fatal(err)
	}
}

// A convolution with oneDNN's layouts and fused post-ops computes what a
// direct float64 loop computes, within the bound float32 summation in any
// order guarantees: (K+3) eps times the sum of the magnitudes of the terms
// (K products, bias, residual). A wrong weight, channel or tap is off by a
// whole term, far above it.
func TestConvMatchesReference(t *testing.T) {
	tests := []struct {
		name                 string
		n, cin, cout, h, w   int
		k, stride, pad       int
		bias, residual, leak bool
	}{
		{"stride2 6to16 leaky", 2, 6, 16, 12, 10, 3, 2, 1, true, false, true},
		{"stride1 32to32 residual", 3, 32, 32, 6, 6, 3, 1, 1, true, true, true},
		{"stride1 22to12 bias only", 1, 22, 12, 8, 8, 3, 1, 1, true, false, false},
		{"1x1 12to3", 2, 12, 3, 5, 7, 1, 1, 0, true, false, false},
		{"no bias sum relu", 2, 16, 16, 6, 8, 3, 1, 1, false, true, true},
		{"5x5 pad2", 1, 3, 8, 9, 9, 5, 1, 2, true, false, true},
	}
	eng := newEngine(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			oh, ow := (tc.h+2*tc.pad-tc.k)/tc.stride+1, (tc.w+2*tc.pad-tc.k)/tc.stride+1
			x := random(rng, tc.n*tc.cin*tc.h*tc.w)
			wt := random(rng, tc.cout*tc.cin*tc.k*tc.k)
			b := random(rng, tc.cout)
			res := random(rng, tc.n*tc.cout*oh*ow)
			var posts []PostOp
			if tc.residual {
				posts = append(posts, Sum(1))
			}
			const slope = 0.1
			if tc.leak {
				posts = append(posts, ReLU(slope))
			}
			op := must[*Op](t)(eng.Conv(tc.name, Conv{
				Src:     MustDesc(Any, tc.n, tc.cin, tc.h, tc.w),
				Weights: MustDesc(Any, tc.cout, tc.cin, tc.k, tc.k),
				Dst:     MustDesc(Any, tc.n, tc.cout, oh, ow),
				Bias:    tc.bias, Stride: [2]int{tc.stride, tc.stride},
				PadL: [2]int{tc.pad, tc.pad}, PadR: [2]int{tc.pad, tc.pad},
				PostOps: posts,
			}))
			t.Logf("impl %s; src %s; weights %s; dst %s", op.Impl(), op.Src(), op.Weights(), op.Dst())
			p := newPlan(t, eng, tc.name)
			uX := must[*Memory](t)(p.Memory("x", MustDesc(NCHW, tc.n, tc.cin, tc.h, tc.w)))
			uW := must[*Memory](t)(p.Memory("w", MustDesc(OIHW, tc.cout, tc.cin, tc.k, tc.k)))
			uY := must[*Memory](t)(p.Memory("y", MustDesc(NCHW, tc.n, tc.cout, oh, ow)))
			copy(uX.Float32s(), x)
			copy(uW.Float32s(), wt)
			copy(uY.Float32s(), res)
			var bm *Memory
			if tc.bias {
				bm = must[*Memory](t)(p.Memory("b", MustDesc(X, tc.cout)))
				copy(bm.Float32s(), b)
			}
			mx := edge(t, eng, p, "x", uX, op.Src())
			mw := edge(t, eng, p, "w", uW, op.Weights())
			my := edge(t, eng, p, "y in", uY, op.Dst()) // the residual
			if err := p.Add(op, Args{Src: mx, Weights: mw, Bias: bm, Dst: my}); err != nil {
				t.Fatal(err)
			}
			if my != uY {
				reorder(t, eng, p, "y out", my, uY)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			got := uY.Float32s()
			worst := 0.0
			for n := 0; n < tc.n; n++ {
				for co := 0; co < tc.cout; co++ {
					for y := 0; y < oh; y++ {
						for xo := 0; xo < ow; xo++ {
							sum, mag := 0.0, 0.0
							for ci := 0; ci < tc.cin; ci++ {
								for ky := 0; ky < tc.k; ky++ {
									for kx := 0; kx < tc.k; kx++ {
										iy, ix := y*tc.stride+ky-tc.pad, xo*tc.stride+kx-tc.pad
										if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
											continue
										}
										v := float64(wt[((co*tc.cin+ci)*tc.k+ky)*tc.k+kx]) * float64(x[((n*tc.cin+ci)*tc.h+iy)*tc.w+ix])
										sum += v
										mag += math.Abs(v)
									}
								}
							}
							i := ((n*tc.cout+co)*oh+y)*ow + xo
							if tc.bias {
								sum += float64(b[co])
								mag += math.Abs(float64(b[co]))
							}
							if tc.residual {
								sum += float64(res[i])
								mag += math.Abs(float64(res[i]))
							}
							if tc.leak && sum < 0 {
								sum *= slope
							}
							kd := tc.cin * tc.k * tc.k
							d := math.Abs(float64(got[i]) - sum)
							if d > float64(kd+3)*eps32*mag {
								t.Fatalf("output %d (n %d c %d y %d x %d) = %v, want %v (bound %g)", i, n, co, y, xo, got[i], sum, float64(kd+3)*eps32*mag)
							}
							worst = max(worst, d/max(mag, 1e-30))
						}
					}
				}
			}
			t.Logf("max |error| / sum|terms| = %.2g (bound (K+3)eps = %.2g)", worst, float64(tc.cin*tc.k*tc.k+3)*eps32)
		})
	}
}

// Nearest 2x resampling repeats every pixel in a 2x2 square (what the
// networks' up2 does), exactly.
func TestResampleNearest2x(t *testing.T) {
	eng := newEngine(t)
	const n, c, h, w = 2, 16, 3, 5
	for _, tag := range []Tag{NCHW, Any} {
		t.Run(fmt.Sprint("tag", int(tag)), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(2, 2))
			x := random(rng, n*c*h*w)
			op := must[*Op](t)(eng.Resample("up", MustDesc(NCHW, n, c, h, w), MustDesc(tag, n, c, 2*h, 2*w)))
			p := newPlan(t, eng, "up")
			in := must[*Memory](t)(p.Memory("x", MustDesc(NCHW, n, c, h, w)))
			out := must[*Memory](t)(p.Memory("y", MustDesc(NCHW, n, c, 2*h, 2*w)))
			copy(in.Float32s(), x)
			dst := edge(t, eng, p, "y", out, op.Dst())
			if err := p.Add(op, Args{Src: in, Dst: dst}); err != nil {
				t.Fatal(err)
			}
			if dst != out {
				reorder(t, eng, p, "y out", dst, out)
			}
			if err := p.Run(); err != nil {
				t.Fatal(err)
			}
			got := out.Float32s()
			for i := 0; i < n*c; i++ {
				for y := 0; y < 2*h; y++ {
					for xo := 0; xo < 2*w; xo++ {
						if g, want := got[(i*2*h+y)*2*w+xo], x[(i*h+y/2)*w+xo/2]; g != want {
							t.Fatalf("plane %d (%d,%d) = %v, want %v", i, y, xo, g, want)
						}
					}
				}
			}
		})
	}
}

// An inner product computes x W^T + b within the float32 summation bound.
func TestInnerProduct(t *testing.T) {
	eng := newEngine(t)
	const n, in, out = 5, 37, 20
	rng := rand.New(rand.NewPCG(3, 3))
	x, wt, b := random(rng, n*in), random(rng, out*in), random(rng, out)
	op := must[*Op](t)(eng.InnerProduct("fc", InnerProduct{
		Src: MustDesc(NC, n, in), Weights: MustDesc(OI, out, in), Dst: MustDesc(NC, n, out), Bias: true,
		PostOps: []PostOp{ReLU(0)},
	}))
	p := newPlan(t, eng, "fc")
	mx := must[*Memory](t)(p.Memory("x", op.Src()))
	mw := must[*Memory](t)(p.Memory("w", op.Weights()))
	mb := must[*Memory](t)(p.Memory("b", op.Bias()))
	my := must[*Memory](t)(p.Memory("y", op.Dst()))
	copy(mx.Float32s(), x)
	copy(mw.Float32s(), wt)
	copy(mb.Float32s(), b)
	if err := p.Add(op, Args{Src: mx, Weights: mw, Bias: mb, Dst: my}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			sum, mag := float64(b[o]), math.Abs(float64(b[o]))
			for i := 0; i < in; i++ {
				v := float64(x[r*in+i]) * float64(wt[o*in+i])
				sum, mag = sum+v, mag+math.Abs(v)
			}
			sum = max(sum, 0)
			if d := math.Abs(float64(my.Float32s()[r*out+o]) - sum); d > float64(in+2)*eps32*mag {
				t.Fatalf("(%d,%d) = %v, want %v", r, o, my.Float32s()[r*out+o], sum)
			}
		}
	}
}

// The convolutions dreamrank's networks use get an optimised
// implementation, not oneDNN's reference loops (ten to a hundred times
// slower).
func TestConvNotReference(t *testing.T) {
	eng := newEngine(t)
	op := must[*Op](t)(eng.Conv("res", Conv{
		Src: MustDesc(Any, 2, 32, 24, 24), Weights: MustDesc(Any, 32, 32, 3, 3), Dst: MustDesc(Any, 2, 32, 24, 24),
		Bias: true, PadL: [2]int{1, 1}, PadR: [2]int{1, 1}, PostOps: []PostOp{Sum(1), ReLU(0.1)},
	}))
	defer op.Close()
	if impl := op.Impl(); strings.HasPrefix(impl, "ref") || impl == "" {
		t.Errorf("implementation %q", impl)
	}
}

// Plan.Run allocates nothing.
func TestRunAllocatesNothing(t *testing.T) {
	eng := newEngine(t)
	p := newPlan(t, eng, "r")
	d := MustDesc(NCHW, 1, 16, 8, 8)
	a := must[*Memory](t)(p.Memory("a", d))
	b := must[*Memory](t)(p.Memory("b", d))
	op := must[*Op](t)(eng.Reorder("copy", d, d))
	if err := p.Add(op, Args{Src: a, Dst: b}); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil { // starts the runner
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per Run", n)
	}
}

// Misuse comes back as errors matching the sentinels, naming the op.
func TestErrors(t *testing.T) {
	eng := newEngine(t)
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"weights channels differ from src", func() error {
			_, err := eng.Conv("bad", Conv{Src: MustDesc(Any, 1, 3, 8, 8), Weights: MustDesc(Any, 4, 5, 3, 3), Dst: MustDesc(Any, 1, 4, 8, 8), PadL: [2]int{1, 1}, PadR: [2]int{1, 1}})
			return err
		}, ErrInvalidArguments},
		{"reorder of other dimensions", func() error {
			_, err := eng.Reorder("bad", MustDesc(NCHW, 1, 3, 4, 4), MustDesc(NCHW, 1, 3, 4, 5))
			return err
		}, ErrInvalidArguments},
		{"memory of another layout", func() error {
			p, err := eng.NewPlan("p")
			if err != nil {
				return err
			}
			defer p.Close()
			d := MustDesc(NCHW, 1, 3, 4, 4)
			a, _ := p.Memory("a", d)
			b, _ := p.Memory("b", MustDesc(NHWC, 1, 3, 4, 4))
			op, err := eng.Reorder("copy", d, d)
			if err != nil {
				return err
			}
			return p.Add(op, Args{Src: a, Dst: b})
		}, ErrInvalidArguments},
		{"run after close", func() error {
			p, err := eng.NewPlan("p")
			if err != nil {
				return err
			}
			p.Close()
			return p.Run()
		}, ErrClosed},
		{"zero dimension", func() error {
			_, err := NewDesc(NCHW, 1, 0, 3, 3)
			return err
		}, ErrInvalidArguments},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			t.Log(err)
		})
	}
}

// A closed memory's view is gone and closing again is harmless.
func TestMemoryClose(t *testing.T) {
	eng := newEngine(t)
	m := must[*Memory](t)(eng.NewMemory("m", MustDesc(X, 10)))
	if len(m.Float32s()) != 10 {
		t.Fatalf("%d floats", len(m.Float32s()))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if m.Float32s() != nil {
		t.Error("view after Close")
	}
	if err := m.Close(); err != nil {
		t.Error(err)
	}
}

// A transposed convolution scatters every input pixel's weighted kernel:
// out[n, o, s*y - pad + ky, s*x - pad + kx] += w[o, c, ky, kx] * in[n, c,
// y, x], within the float32 summation bound (as TestConvMatchesReference).
func TestTransposedConv(t *testing.T) {
	eng := newEngine(t)
	const n, cin, cout, h, w, k, s, pad = 2, 16, 12, 5, 6, 4, 2, 1
	oh, ow := (h-1)*s-2*pad+k, (w-1)*s-2*pad+k
	rng := rand.New(rand.NewPCG(6, 6))
	x, wt, b := random(rng, n*cin*h*w), random(rng, cout*cin*k*k), random(rng, cout)
	op := must[*Op](t)(eng.Conv("up", Conv{
		Src: MustDesc(Any, n, cin, h, w), Weights: MustDesc(Any, cout, cin, k, k), Dst: MustDesc(Any, n, cout, oh, ow),
		Bias: true, Stride: [2]int{s, s}, PadL: [2]int{pad, pad}, PadR: [2]int{pad, pad}, Transposed: true,
	}))
	t.Logf("impl %s; src %s; weights %s; dst %s", op.Impl(), op.Src(), op.Weights(), op.Dst())
	p := newPlan(t, eng, "up")
	uX := must[*Memory](t)(p.Memory("x", MustDesc(NCHW, n, cin, h, w)))
	uW := must[*Memory](t)(p.Memory("w", MustDesc(OIHW, cout, cin, k, k)))
	uY := must[*Memory](t)(p.Memory("y", MustDesc(NCHW, n, cout, oh, ow)))
	bm := must[*Memory](t)(p.Memory("b", MustDesc(X, cout)))
	copy(uX.Float32s(), x)
	copy(uW.Float32s(), wt)
	copy(bm.Float32s(), b)
	mx, mw := edge(t, eng, p, "x", uX, op.Src()), edge(t, eng, p, "w", uW, op.Weights())
	my := uY
	if !uY.Desc().Equal(op.Dst()) {
		my = must[*Memory](t)(p.Memory("y blocked", op.Dst()))
	}
	if err := p.Add(op, Args{Src: mx, Weights: mw, Bias: bm, Dst: my}); err != nil {
		t.Fatal(err)
	}
	if my != uY {
		reorder(t, eng, p, "y out", my, uY)
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, n*cout*oh*ow)
	mag := make([]float64, len(want))
	for i := range want {
		c := (i / (oh * ow)) % cout
		want[i], mag[i] = float64(b[c]), math.Abs(float64(b[c]))
	}
	for bn := 0; bn < n; bn++ {
		for o := 0; o < cout; o++ {
			for c := 0; c < cin; c++ {
				for y := 0; y < h; y++ {
					for xi := 0; xi < w; xi++ {
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								Y, X := s*y-pad+ky, s*xi-pad+kx
								if Y < 0 || Y >= oh || X < 0 || X >= ow {
									continue
								}
								v := float64(wt[((o*cin+c)*k+ky)*k+kx]) * float64(x[((bn*cin+c)*h+y)*w+xi])
								i := ((bn*cout+o)*oh+Y)*ow + X
								want[i] += v
								mag[i] += math.Abs(v)
							}
						}
					}
				}
			}
		}
	}
	for i, g := range uY.Float32s() {
		if d := math.Abs(float64(g) - want[i]); d > float64(cin*k*k+2)*eps32*mag[i] {
			t.Fatalf("output %d = %v, want %v", i, g, want[i])
		}
	}
}
