package flow

import (
	"math"
	"math/rand/v2"

	"dreamrank/policy"
)

// batch is one training batch laid out like the graph's inputs.
type batch struct {
	img, proprio, obs, xt, temb, ctx, target []float32
	auxLabel, auxMask                        []float32
	// t, clip and step are each example's flow time and where it came from.
	t          []float64
	clip, step []int
}

// norm maps a position to the network's [-1, 1] range.
func (c ModelConfig) norm(v float32) float32 { return float32(float64(v)/c.Scale*2 - 1) }

// denorm is norm's inverse.
func (c ModelConfig) denorm(v float32) float32 { return float32((float64(v) + 1) / 2 * c.Scale) }

// actionValue is what the head learns for action value a given the
// proprio value p of the same dimension (see ModelConfig.Relative).
func (c ModelConfig) actionValue(a, p float32) float32 {
	if c.Relative > 0 {
		return float32(float64(c.norm(a)-c.norm(p)) * c.Relative)
	}
	return c.norm(a)
}

// action is actionValue's inverse: the action from the head's value v.
func (c ModelConfig) action(v, p float32) float32 {
	if c.Relative > 0 {
		return c.denorm(float32(float64(v)/c.Relative) + c.norm(p))
	}
	return c.denorm(v)
}

// sampleTime draws flow time t ~ Beta(1.5, 1) * 0.999 + 0.001 (openpi):
// Beta(a, 1) is U^(1/a), skewed towards the noisy end.
func sampleTime(rng *rand.Rand) float64 {
	return math.Pow(rng.Float64(), 1/1.5)*0.999 + 0.001
}

// makeBatch samples the examples of optimizer step s; it depends only on
// (seed, s), so a resumed run sees the same data. With feats (the frozen
// encoder's features per clip and step) it fills obs instead of images.
func makeBatch(d *dataset, cfg TrainConfig, s, size int, feats [][][]float32) *batch {
	c := cfg.Model
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(s)+1))
	in := 3 * c.inH() * c.inW()
	cd, cx, od := c.chunkDim(), c.ctxDim(), c.obsDim()
	b := &batch{xt: make([]float32, size*cd), temb: make([]float32, size*c.TimeDim),
		ctx: make([]float32, size*cx), target: make([]float32, size*cd),
		t: make([]float64, size), clip: make([]int, size), step: make([]int, size)}
	if feats != nil {
		b.obs = make([]float32, size*od)
	} else {
		b.img, b.proprio = make([]float32, size*in), make([]float32, size*c.ProprioDim)
		if c.AuxPose {
			b.auxLabel, b.auxMask = make([]float32, size*auxDim), make([]float32, size*auxDim)
		}
	}
	for k := 0; k < size; k++ {
		ci, i := d.at(d.sample(rng))
		cl := d.clips[ci]
		b.clip[k], b.step[k] = ci, i
		if feats != nil {
			copy(b.obs[k*od:(k+1)*od], feats[ci][i])
		} else {
			bytesToUnit(b.img[k*in:(k+1)*in], cl.pooled[i])
			for j, v := range cl.proprio[i] {
				b.proprio[k*c.ProprioDim+j] = c.norm(v)
			}
			if b.auxLabel != nil {
				if label, ok := cl.pose(c, i); ok {
					copy(b.auxLabel[k*auxDim:(k+1)*auxDim], label[:])
					for j := 0; j < auxDim; j++ {
						b.auxMask[k*auxDim+j] = 1
					}
				}
			}
		}
		steer := policy.Context{Task: cl.task, Metadata: dropFields(rng, cl.meta, cfg.Dropout)}
		if rng.Float64() < cfg.Dropout.Task {
			steer.Task = ""
		}
		row := b.ctx[k*cx : (k+1)*cx]
		c.encodeContext(row, steer, false)
		var sub []uint8
		if rng.Float64() < cfg.Dropout.SubgoalKeep && len(cl.small) > 0 {
			sub = cl.small[min(i+c.Horizon, len(cl.small)-1)]
		}
		c.encodeSubgoal(row[metaDim+c.TaskDim:], sub)

		t := sampleTime(rng)
		b.t[k] = t
		timeEmbedding(b.temb[k*c.TimeDim:(k+1)*c.TimeDim], t)
		for h := 0; h < c.Horizon; h++ {
			a := cl.actions[min(i+h, len(cl.actions)-1)]
			for j := 0; j < c.ActionDim; j++ {
				idx := k*cd + h*c.ActionDim + j
				eps := float32(rng.NormFloat64())
				var p float32
				if j < len(cl.proprio[i]) {
					p = cl.proprio[i][j]
				}
				av := c.actionValue(a[j], p)
				b.xt[idx] = float32(t)*eps + float32(1-t)*av
				b.target[idx] = eps - av
			}
		}
	}
	return b
}

// dropFields hides metadata the way pi0.7 trains: all of it with
// probability AllMetadata, else each field with probability Field.
func dropFields(rng *rand.Rand, m policy.Metadata, d Dropout) policy.Metadata {
	if rng.Float64() < d.AllMetadata {
		return policy.Metadata{}
	}
	if rng.Float64() < d.Field {
		m.Speed = ""
	}
	if rng.Float64() < d.Field {
		m.Quality = 0
	}
	if rng.Float64() < d.Field {
		m.Mistake = nil
	}
	return m
}

func (b *batch) load(tg *trainGraph) {
	if tg.obs.N != nil {
		copy(tg.obs.Data(), b.obs)
	} else {
		copy(tg.img.Data(), b.img)
		copy(tg.proprio.Data(), b.proprio)
	}
	if tg.auxLabel.N != nil {
		copy(tg.auxLabel.Data(), b.auxLabel)
		copy(tg.auxMask.Data(), b.auxMask)
	}
	copy(tg.xt.Data(), b.xt)
	copy(tg.temb.Data(), b.temb)
	copy(tg.ctx.Data(), b.ctx)
	copy(tg.target.Data(), b.target)
}
