package openblas

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Both gorgonia and tensor must accept the implementation.
var (
	_ gorgonia.BLAS = Implementation{}
	_ tensor.BLAS   = Implementation{}
)

func randSlice(rng *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.Float64()*2 - 1
	}
	return s
}

func to32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

func maxDiff32(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func maxDiff64(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func TestGemmMatchesGonum(t *testing.T) {
	tests := []struct {
		name    string
		tA, tB  blas.Transpose
		m, n, k int
		pad     int // extra columns in every leading dimension
		alpha   float64
		beta    float64
	}{
		{"NN square", blas.NoTrans, blas.NoTrans, 64, 64, 64, 0, 1, 0},
		{"NN rect beta", blas.NoTrans, blas.NoTrans, 17, 33, 9, 0, 0.5, 2},
		{"TN padded", blas.Trans, blas.NoTrans, 31, 7, 12, 3, -1.5, 0.25},
		{"NT padded", blas.NoTrans, blas.Trans, 5, 40, 23, 2, 2, 1},
		{"TT", blas.Trans, blas.Trans, 12, 13, 14, 1, 1, -1},
		{"ConjTrans as Trans", blas.ConjTrans, blas.NoTrans, 8, 9, 10, 0, 1, 0},
		{"one by one", blas.NoTrans, blas.NoTrans, 1, 1, 1, 0, 3, 1},
		{"k zero scales C", blas.NoTrans, blas.NoTrans, 4, 4, 0, 0, 1, 2},
		{"alpha zero", blas.NoTrans, blas.NoTrans, 4, 5, 6, 0, 0, 0.5},
		{"m zero", blas.NoTrans, blas.NoTrans, 0, 5, 6, 0, 1, 1},
		// Large enough for OpenBLAS's blocked, multi-threaded path.
		{"large NT", blas.NoTrans, blas.Trans, 513, 700, 1100, 5, 1, 0.5},
		{"large TN", blas.Trans, blas.NoTrans, 640, 384, 777, 0, -0.5, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(tc.m*1000+tc.n)))
			rowA, colA := tc.m, tc.k
			if tc.tA != blas.NoTrans {
				rowA, colA = tc.k, tc.m
			}
			rowB, colB := tc.k, tc.n
			if tc.tB != blas.NoTrans {
				rowB, colB = tc.n, tc.k
			}
			lda, ldb, ldc := max(1, colA+tc.pad), max(1, colB+tc.pad), max(1, tc.n+tc.pad)
			a := randSlice(rng, rowA*lda)
			b := randSlice(rng, rowB*ldb)
			c := randSlice(rng, tc.m*ldc)

			want64 := append([]float64(nil), c...)
			gonum.Implementation{}.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, want64, ldc)
			got64 := append([]float64(nil), c...)
			Implementation{}.Dgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, got64, ldc)
			if d := maxDiff64(got64, want64); d > 1e-12 {
				t.Errorf("Dgemm: max difference %g from gonum", d)
			}

			a32, b32 := to32(a), to32(b)
			want32 := to32(c)
			gonum.Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, float32(tc.alpha), a32, lda, b32, ldb, float32(tc.beta), want32, ldc)
			got32 := to32(c)
			Implementation{}.Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, float32(tc.alpha), a32, lda, b32, ldb, float32(tc.beta), got32, ldc)
			if d := maxDiff32(got32, want32); d > 1e-4*math.Sqrt(float64(max(tc.k, 1))) {
				t.Errorf("Sgemm: max difference %g from gonum", d)
			}
		})
	}
}

func TestGemvMatchesGonum(t *testing.T) {
	tests := []struct {
		name       string
		tA         blas.Transpose
		m, n, pad  int
		incX, incY int
		alpha      float64
		beta       float64
	}{
		{"N unit", blas.NoTrans, 20, 30, 0, 1, 1, 1, 0},
		{"T unit", blas.Trans, 20, 30, 0, 1, 1, 1, 0},
		{"N strided", blas.NoTrans, 11, 7, 2, 2, 3, 0.5, 1.5},
		{"T negative inc", blas.Trans, 9, 13, 1, -2, -1, -1, 0.5},
		{"alpha zero", blas.NoTrans, 3, 4, 0, 1, 1, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tc.m)))
			lda := tc.n + tc.pad
			nx, ny := tc.n, tc.m
			if tc.tA != blas.NoTrans {
				nx, ny = tc.m, tc.n
			}
			a := randSlice(rng, tc.m*lda)
			x := randSlice(rng, 1+(nx-1)*abs(tc.incX))
			y := randSlice(rng, 1+(ny-1)*abs(tc.incY))

			want := append([]float64(nil), y...)
			gonum.Implementation{}.Dgemv(tc.tA, tc.m, tc.n, tc.alpha, a, lda, x, tc.incX, tc.beta, want, tc.incY)
			got := append([]float64(nil), y...)
			Implementation{}.Dgemv(tc.tA, tc.m, tc.n, tc.alpha, a, lda, x, tc.incX, tc.beta, got, tc.incY)
			if d := maxDiff64(got, want); d > 1e-12 {
				t.Errorf("Dgemv: max difference %g", d)
			}

			want32 := to32(y)
			gonum.Implementation{}.Sgemv(tc.tA, tc.m, tc.n, float32(tc.alpha), to32(a), lda, to32(x), tc.incX, float32(tc.beta), want32, tc.incY)
			got32 := to32(y)
			Implementation{}.Sgemv(tc.tA, tc.m, tc.n, float32(tc.alpha), to32(a), lda, to32(x), tc.incX, float32(tc.beta), got32, tc.incY)
			if d := maxDiff32(got32, want32); d > 1e-4*math.Sqrt(float64(max(tc.m, tc.n))) {
				t.Errorf("Sgemv: max difference %g", d)
			}
		})
	}
}

func TestInvalidArgumentsPanic(t *testing.T) {
	tests := []struct {
		name string
		call func()
	}{
		{"short A", func() {
			Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, make([]float32, 15), 4, make([]float32, 16), 4, 0, make([]float32, 16), 4)
		}},
		{"small lda", func() {
			Implementation{}.Dgemm(blas.NoTrans, blas.NoTrans, 4, 4, 4, 1, make([]float64, 16), 3, make([]float64, 16), 4, 0, make([]float64, 16), 4)
		}},
		{"bad transpose", func() {
			Implementation{}.Sgemm('x', blas.NoTrans, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short y", func() {
			Implementation{}.Sgemv(blas.NoTrans, 4, 4, 1, make([]float32, 16), 4, make([]float32, 4), 1, 0, make([]float32, 3), 1)
		}},
		{"zero incX", func() {
			Implementation{}.Dgemv(blas.NoTrans, 2, 2, 1, make([]float64, 4), 2, make([]float64, 2), 0, 0, make([]float64, 2), 1)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.call()
		})
	}
}

func TestTensorUse(t *testing.T) {
	old := tensor.WhichBLAS()
	tensor.Use(Implementation{})
	defer tensor.Use(old)

	a := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	b := tensor.New(tensor.WithShape(3, 2), tensor.WithBacking([]float32{7, 8, 9, 10, 11, 12}))
	c, err := tensor.MatMul(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{58, 64, 139, 154}
	if got := c.Data().([]float32); maxDiff32(got, want) > 1e-5 {
		t.Errorf("MatMul = %v, want %v", got, want)
	}
}

func TestThreads(t *testing.T) {
	old := Threads()
	if old < 1 {
		t.Fatalf("Threads() = %d", old)
	}
	SetThreads(1)
	if got := Threads(); got != 1 {
		t.Errorf("after SetThreads(1), Threads() = %d", got)
	}
	SetThreads(old)
	t.Logf("OpenBLAS %s, core %s (retuned %q), %d threads", Config(), CoreName(), Retuned(), old)
}

func TestPeakGFLOPS(t *testing.T) {
	g := PeakGFLOPS(context.Background(), 256, 50*time.Millisecond)
	if g <= 0 || math.IsInf(g, 0) || math.IsNaN(g) {
		t.Fatalf("PeakGFLOPS = %g", g)
	}
	t.Logf("sgemm 256: %.1f GFLOP/s", g)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if g := PeakGFLOPS(ctx, 256, time.Hour); g != 0 {
		t.Errorf("cancelled: %g, want 0", g)
	}
	if g := PeakGFLOPS(context.Background(), 0, time.Millisecond); g != 0 {
		t.Errorf("n=0: %g, want 0", g)
	}
}

func BenchmarkSgemm512(b *testing.B) {
	b.ReportMetric(PeakGFLOPS(context.Background(), 512, time.Second), "GFLOP/s")
}

func TestSerial(t *testing.T) {
	old := Threads()
	r1 := Serial()
	r2 := Serial() // overlapping sections
	if got := Threads(); got != 1 {
		t.Errorf("in Serial sections, Threads() = %d", got)
	}
	r1()
	r1() // a second release is a no-op
	if got := Threads(); got != 1 {
		t.Errorf("with one section still open, Threads() = %d", got)
	}
	r2()
	if got := Threads(); got != old {
		t.Errorf("after the last release, Threads() = %d, want %d", got, old)
	}
}
