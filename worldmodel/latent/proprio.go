package latent

import (
	"fmt"
	"math"
)

// The pusher is a linear PD system (REFERENCES section 1), so its next
// position is, to a very good approximation, a linear function of its last
// three positions and the action. proprioHead holds those coefficients,
// shared by x and y and fitted by least squares on the training data:
//
//	p[t+1] = c0*p[t] + c1*p[t-1] + c2*p[t-2] + c3*a[t] + c4*table
//
// (c4 is an offset relative to the table size, so the fit is scale-free.)
type proprioHead [proprioFeatures]float64

const proprioFeatures = 5

// defaultProprioHead is the head before fitting: the pusher stays put.
func defaultProprioHead() proprioHead { return proprioHead{1, 0, 0, 0, 0} }

func (h proprioHead) features(p0, p1, p2, a, table float64) [proprioFeatures]float64 {
	return [proprioFeatures]float64{p0, p1, p2, a, table}
}

// predict returns the next position from the last three (hist[0] newest).
func (h proprioHead) predict(hist [3][2]float32, a []float32, table float64) [2]float32 {
	var out [2]float32
	for d := 0; d < 2; d++ {
		f := h.features(float64(hist[0][d]), float64(hist[1][d]), float64(hist[2][d]), float64(a[d]), table)
		s := 0.0
		for i, c := range h {
			s += c * f[i]
		}
		out[d] = float32(s)
	}
	return out
}

// fitProprioHead fits the head to every step of the clips by least squares.
func fitProprioHead(clips []*clip, table float64) (proprioHead, float64, error) {
	var ata [proprioFeatures][proprioFeatures]float64
	var atb [proprioFeatures]float64
	n := 0
	var h proprioHead
	for _, c := range clips {
		for t := 0; t+1 < len(c.proprio); t++ {
			for d := 0; d < 2; d++ {
				p := func(i int) float64 { return float64(c.proprio[max(i, 0)][d]) }
				f := h.features(p(t), p(t-1), p(t-2), float64(c.actions[t][d]), table)
				y := p(t + 1)
				for i := range f {
					atb[i] += f[i] * y
					for j := range f {
						ata[i][j] += f[i] * f[j]
					}
				}
				n++
			}
		}
	}
	if n < 2*proprioFeatures {
		return defaultProprioHead(), 0, nil
	}
	for i := range ata {
		ata[i][i] += 1e-6 * (ata[i][i] + 1) // ridge for degenerate data
	}
	x, err := solve(ata, atb)
	if err != nil {
		return defaultProprioHead(), 0, err
	}
	h = proprioHead(x)
	// RMS error per coordinate.
	se := 0.0
	for _, c := range clips {
		for t := 0; t+1 < len(c.proprio); t++ {
			hist := [3][2]float32{vec2(c.proprio[t]), vec2(c.proprio[max(t-1, 0)]), vec2(c.proprio[max(t-2, 0)])}
			p := h.predict(hist, c.actions[t], table)
			for d := 0; d < 2; d++ {
				e := float64(p[d] - c.proprio[t+1][d])
				se += e * e
			}
		}
	}
	return h, math.Sqrt(se / float64(n)), nil
}

// solve solves a small dense system by Gaussian elimination with partial
// pivoting.
func solve(a [proprioFeatures][proprioFeatures]float64, b [proprioFeatures]float64) ([proprioFeatures]float64, error) {
	const n = proprioFeatures
	for col := 0; col < n; col++ {
		piv := col
		for r := col + 1; r < n; r++ {
			if math.Abs(a[r][col]) > math.Abs(a[piv][col]) {
				piv = r
			}
		}
		if math.Abs(a[piv][col]) < 1e-12 {
			return b, fmt.Errorf("latent: singular proprio fit")
		}
		a[col], a[piv] = a[piv], a[col]
		b[col], b[piv] = b[piv], b[col]
		for r := col + 1; r < n; r++ {
			f := a[r][col] / a[col][col]
			for c := col; c < n; c++ {
				a[r][c] -= f * a[col][c]
			}
			b[r] -= f * b[col]
		}
	}
	var x [proprioFeatures]float64
	for r := n - 1; r >= 0; r-- {
		s := b[r]
		for c := r + 1; c < n; c++ {
			s -= a[r][c] * x[c]
		}
		x[r] = s / a[r][r]
	}
	return x, nil
}

func vec2(v []float32) [2]float32 { return [2]float32{v[0], v[1]} }
