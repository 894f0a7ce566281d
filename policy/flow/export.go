package flow

import (
	"math/rand/v2"

	"dreamrank/policy"
)

// ActInputs is what Act feeds the flow head besides the observation
// feature, for a PyTorch peer of the policy (policy/bench) to compute the
// same chunks: for n observations, the normalised proprio (n x
// ProprioDim), the context rows (n x CtxDim, and with guidance the
// metadata-free rows after them), the initial noise (n x ChunkDim, already
// scaled by the temperature) and the guidance weight.
type ActInputs struct {
	Proprio  []float32
	Ctx      []float32
	Noise    []float32
	Guided   bool
	Guidance float64
}

// ActInputs computes Act's inputs for obs and steer (nil: no steering).
// With the pose front end, which is not a network, a peer starts from the
// observation features instead (Features).
func (p *Policy) ActInputs(obs []policy.Observation, steer []policy.Context) (ActInputs, error) {
	if err := p.Spec().ValidateInput(obs, steer); err != nil {
		return ActInputs{}, err
	}
	c := p.cfg
	n, cx, cd := len(obs), c.ctxDim(), c.chunkDim()
	in := ActInputs{Guided: p.Guidance != 1 && steer != nil, Guidance: p.Guidance}
	rows := n
	if in.Guided {
		rows = 2 * n
	}
	in.Proprio, in.Ctx, in.Noise = make([]float32, n*c.ProprioDim), make([]float32, rows*cx), make([]float32, n*cd)
	for i, o := range obs {
		for j, v := range o.Proprio {
			in.Proprio[i*c.ProprioDim+j] = c.norm(v)
		}
		var sc policy.Context
		if steer != nil {
			sc = steer[i]
		}
		c.encodeContext(in.Ctx[i*cx:(i+1)*cx], sc, false)
		if in.Guided {
			c.encodeContext(in.Ctx[(n+i)*cx:(n+i+1)*cx], sc, true)
		}
		rng := rand.New(rand.NewPCG(p.Seed, noiseKey(o)))
		for j := range cd {
			in.Noise[i*cd+j] = float32(p.Temperature * rng.NormFloat64())
		}
	}
	return in, nil
}
