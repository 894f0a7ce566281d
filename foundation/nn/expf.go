package nn

import "math"

// Expf is e^x in float32, Cephes' expf: x = n ln2 + r with |r| <= ln2/2,
// e^r by a degree-7 polynomial, times 2^n put into the exponent bits.
// Within 2 ulp of the exact value (TestExpf), and several times faster
// than math32.Exp or float64's math.Exp with conversions; inference's
// softmaxes and SiLUs call it tens of thousands of times per step.
func Expf(x float32) float32 {
	const (
		hi     = 88.72283 // e^hi is float32's largest
		lo     = -87.33654
		log2e  = 1.44269504088896341
		ln2Hi  = 0.693359375
		ln2Lo  = -2.12194440e-4
		minExp = 0
	)
	switch {
	case x > hi:
		return float32(math.Inf(1))
	case x < lo:
		return minExp // below float32's normal range: the callers sum it away
	case x != x:
		return x
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2Hi - n*ln2Lo
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	p = p*r*r + r + 1
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// SiLUf is x / (1 + e^-x) in float32 (Expf): the activation of the flow
// heads, the adapters and the MLPs, as inference computes it.
func SiLUf(x float32) float32 { return x / (1 + Expf(-x)) }
