package nn

import "math"

// ClipGrads scales the gradients so their global norm is at most maxNorm
// (long unrolls occasionally produce a spike); nil gradients are skipped.
func ClipGrads(grads [][]float32, maxNorm float64) {
	var ss float64
	for _, g := range grads {
		for _, v := range g {
			ss += float64(v) * float64(v)
		}
	}
	n := math.Sqrt(ss)
	if n <= maxNorm || n == 0 {
		return
	}
	k := float32(maxNorm / n)
	for _, g := range grads {
		for i := range g {
			g[i] *= k
		}
	}
}
