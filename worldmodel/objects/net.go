package objects

import (
	"fmt"
	"math"
	"math/rand/v2"

	"dreamrank/foundation/nn"
)

// Parameter names.
const (
	agentParam = "agent.w" // the agent head: 3 coefficients (agentFeatures)
	outLayer   = "out"
)

func layerName(i int) string { return fmt.Sprintf("mlp%d", i) }

// newParams makes the model's parameters: the agent head (zero until fitted)
// and the block MLP, whose output layer starts at zero so an untrained
// model leaves the block where it is.
func newParams(c ModelConfig, seed uint64) *nn.Params {
	rng := rand.New(rand.NewPCG(seed, 0x6f626a))
	ps := &nn.Params{}
	ps.Add(agentParam, []int{3}, nil)
	in := numFeatures
	for i := range c.Layers {
		ps.AddLinear(rng, layerName(i), in, c.Hidden, 1)
		in = c.Hidden
	}
	ps.AddLinear(rng, outLayer, in, 3, 0)
	return ps
}

// newForward is the block MLP's forward pass in plain Go (nn.MLP):
// imagined rollouts run it per episode, so a prediction never depends on
// its batch.
func newForward(ps *nn.Params, c ModelConfig) *nn.MLP {
	names := make([]string, 0, c.Layers+1)
	for i := range c.Layers {
		names = append(names, layerName(i))
	}
	return nn.NewMLP(ps, append(names, outLayer)...)
}

// fitAgentHead fits the agent head by least squares over every step of the
// tracks: per axis, next - now = w . agentFeatures. The pusher follows a PD
// controller whose velocity carries over, so its motion is close to linear
// in its last displacements and the action's offset. It returns the
// coefficients and the RMS one-step error in table px.
func fitAgentHead(tracks []*track) ([3]float64, float64, error) {
	var ata [3][3]float64
	var atb [3]float64
	n := 0
	each := func(fn func(x [3]float64, y float64)) {
		for _, t := range tracks {
			for s := 2; s+1 < len(t.agent); s++ {
				for ax := range 2 {
					hist := [3]float64{float64(t.agent[s][ax]), float64(t.agent[s-1][ax]), float64(t.agent[s-2][ax])}
					fn(agentFeatures(hist, float64(t.actions[s][ax])), float64(t.agent[s+1][ax])-hist[0])
				}
			}
		}
	}
	each(func(x [3]float64, y float64) {
		for i := range 3 {
			for j := range 3 {
				ata[i][j] += x[i] * x[j]
			}
			atb[i] += x[i] * y
		}
		n++
	})
	if n < 3 {
		return [3]float64{}, 0, fmt.Errorf("%w: %d agent steps to fit the agent head", ErrNoData, n)
	}
	w, ok := solve3(ata, atb)
	if !ok {
		return [3]float64{}, 0, fmt.Errorf("%w: the agent's motion is degenerate (the pusher never moves?)", ErrNoData)
	}
	var se float64
	each(func(x [3]float64, y float64) {
		d := w[0]*x[0] + w[1]*x[1] + w[2]*x[2] - y
		se += d * d
	})
	return w, math.Sqrt(se / float64(n)), nil
}

// solve3 solves a 3x3 system by Gaussian elimination with partial pivoting.
func solve3(a [3][3]float64, b [3]float64) ([3]float64, bool) {
	for c := range 3 {
		p := c
		for r := c + 1; r < 3; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-9 {
			return [3]float64{}, false
		}
		a[c], a[p] = a[p], a[c]
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < 3; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 3; k++ {
				a[r][k] -= f * a[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [3]float64
	for r := 2; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < 3; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return x, true
}
