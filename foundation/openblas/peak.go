package openblas

import (
	"context"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/blas"
)

// PeakGFLOPS measures fp32 sgemm throughput on n x n matrices: after one
// untimed warm-up call it multiplies repeatedly for about dur (at least one
// timed call) and returns 2n^3 x calls / seconds / 1e9. It uses OpenBLAS's
// current thread count. A cancelled ctx ends the timing early; the result
// then covers the calls made so far (0 if none). n < 1 returns 0.
func PeakGFLOPS(ctx context.Context, n int, dur time.Duration) float64 {
	if n < 1 || ctx.Err() != nil {
		return 0
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	a, b, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
	for i := range a {
		a[i], b[i] = rng.Float32()-0.5, rng.Float32()-0.5
	}
	var impl Implementation
	mul := func() { impl.Sgemm(blas.NoTrans, blas.NoTrans, n, n, n, 1, a, n, b, n, 0, c, n) }
	mul() // warm-up: page faults, OpenBLAS thread start
	calls := 0
	start := time.Now()
	for calls == 0 || time.Since(start) < dur {
		if ctx.Err() != nil {
			break
		}
		mul()
		calls++
	}
	sec := time.Since(start).Seconds()
	if calls == 0 || sec <= 0 {
		return 0
	}
	return 2 * float64(n) * float64(n) * float64(n) * float64(calls) / sec / 1e9
}
