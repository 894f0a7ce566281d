package legacyrng

import (
	"fmt"
	"math"
)

// RandomState mirrors np.random.RandomState(seed) for an integer seed.
// It is not safe for concurrent use.
type RandomState struct {
	mt       mt19937
	hasGauss bool
	gauss    float64
}

// New returns the stream of np.random.RandomState(seed). NumPy accepts seeds
// in [0, 2^32) only; so does New, through its parameter type.
func New(seed uint32) *RandomState {
	r := &RandomState{}
	r.mt.seed(seed)
	return r
}

// Uint32 returns the next raw 32-bit output of the generator.
func (r *RandomState) Uint32() uint32 { return r.mt.next32() }

// RandomSample is RandomState.random_sample(): a uniform double in [0, 1).
func (r *RandomState) RandomSample() float64 { return r.mt.nextDouble() }

// Randn is RandomState.randn() for one value: the legacy polar method, which
// draws pairs and returns the cached second value on every other call.
func (r *RandomState) Randn() float64 {
	if r.hasGauss {
		r.hasGauss = false
		g := r.gauss
		r.gauss = 0
		return g
	}
	var x1, x2, r2 float64
	for {
		x1 = 2*r.mt.nextDouble() - 1
		x2 = 2*r.mt.nextDouble() - 1
		r2 = x1*x1 + x2*x2
		if r2 < 1 && r2 != 0 {
			break
		}
	}
	f := math.Sqrt(-2 * math.Log(r2) / r2)
	r.gauss = f * x1
	r.hasGauss = true
	return f * x2
}

// Randint is RandomState.randint(low, high) for one default-dtype (int64)
// value in [low, high). Legacy NumPy uses masked rejection sampling: draw,
// mask to the smallest all-ones mask covering the range, and retry when the
// value falls outside. Ranges that fit 32 bits consume one 32-bit output per
// try, wider ranges one 64-bit output. It panics if high <= low, as NumPy raises.
func (r *RandomState) Randint(low, high int64) int64 {
	if high <= low {
		panic(fmt.Sprintf("legacyrng: Randint(%d, %d): low >= high", low, high))
	}
	// Width of the closed range [low, high-1]; unsigned so 2^63 spans fit.
	span := uint64(high-1) - uint64(low)
	return low + int64(r.bounded(span))
}

// bounded returns a value in [0, span] drawn the way NumPy's
// random_bounded_uint64_fill does with use_masked=true.
func (r *RandomState) bounded(span uint64) uint64 {
	switch {
	case span == 0:
		return 0
	case span == math.MaxUint32:
		return uint64(r.mt.next32())
	case span < math.MaxUint32:
		mask := uint32(maskFor(span))
		for {
			if v := r.mt.next32() & mask; uint64(v) <= span {
				return uint64(v)
			}
		}
	case span == math.MaxUint64:
		return r.mt.next64()
	default:
		mask := maskFor(span)
		for {
			if v := r.mt.next64() & mask; v <= span {
				return v
			}
		}
	}
}

// maskFor is the smallest 2^k-1 that is >= v.
func maskFor(v uint64) uint64 {
	v |= v >> 1
	v |= v >> 2
	v |= v >> 4
	v |= v >> 8
	v |= v >> 16
	v |= v >> 32
	return v
}
