package flow

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/policy"
)

// randomObs are n observations of c's frame size with random pixels and
// proprio.
func randomObs(c ModelConfig, n int, seed uint64) []policy.Observation {
	rng := rand.New(rand.NewPCG(seed, 7))
	obs := make([]policy.Observation, n)
	for i := range obs {
		img := make([]uint8, 3*c.FrameH*c.FrameW)
		for j := range img {
			img[j] = uint8(rng.IntN(256))
		}
		obs[i] = policy.Observation{Image: img, Proprio: []float32{float32(rng.Float64() * 512), float32(rng.Float64() * 512)}}
	}
	return obs
}

// The oneDNN encoder computes the fast encoder's features (random weights
// with non-zero biases, random frames), for several batch sizes, within
// 1e-4 for the reason fast and graph agree to it (TestFastMatchesGraph:
// the same products summed in other orders); and an image's features do
// not depend on its batch, bit for bit (oneDNN's kernels follow the
// image, not the batch).
func TestDnnlEncoderMatchesFast(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ModelConfig
	}{
		{"tiny", tinyModel()},
		{"default", DefaultModelConfig()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			ps := newParams(c, 12)
			rng := rand.New(rand.NewPCG(8, 9))
			for _, p := range ps.List {
				if len(p.Shape) == 1 {
					for i := range p.Data() {
						p.Data()[i] = float32(rng.Float64() * 0.1)
					}
				}
			}
			const n = 5
			obs := randomObs(c, n, 3)
			od := c.obsDim()
			want := make([]float32, n*od)
			f := newFastNet(c, ps)
			in := 3 * c.inH() * c.inW()
			pooled, img, prop := make([]uint8, in), make([]float32, in), make([]float32, c.ProprioDim)
			for i, o := range obs {
				poolFrame(pooled, o.Image, c.FrameH, c.FrameW, c.Pool)
				bytesToUnit(img, pooled)
				for j, v := range o.Proprio {
					prop[j] = c.norm(v)
				}
				f.encode(want[i*od:(i+1)*od], img, prop)
			}
			p := newPolicy(c, ps)
			defer p.Close()
			encode := func(o []policy.Observation) []float32 {
				got := make([]float32, len(o)*od)
				if err := p.encodeDnnl(got, o); err != nil {
					t.Fatal(err)
				}
				return got
			}
			alone := make([]float32, n*od)
			for i := range obs {
				copy(alone[i*od:], encode(obs[i:i+1]))
			}
			for _, batch := range []int{1, 2, 3, n} {
				got := encode(obs[:batch])
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(alone[i]) {
						t.Fatalf("batch %d: feature %d differs from the image's alone: %v vs %v", batch, i, got[i], alone[i])
					}
				}
				d := maxDiff(got, want[:batch*od])
				t.Logf("batch %d: max |dnnl - fast| = %.3g, max |fast| = %.3g", batch, d, maxAbs(want))
				if d > 1e-4 {
					t.Errorf("batch %d: max |dnnl - fast| = %g", batch, d)
				}
			}
		})
	}
}

// Act's chunks on the oneDNN encoder are the fast encoder's, up to the
// features' rounding carried through the head (actions in table units,
// 0..512: 1e-2 is far below a pixel, a wrong feature moves them by tens).
func TestActDnnlMatchesFast(t *testing.T) {
	c := tinyModel()
	p := newPolicy(c, newParams(c, 13))
	defer p.Close()
	obs := randomObs(c, 6, 4)
	act := func(inference string) []policy.Chunk {
		p.Inference = inference
		out, err := p.Act(context.Background(), obs, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	fast, dn := act("fast"), act("dnnl")
	worst := 0.0
	for i := range fast {
		for k := range fast[i].Actions {
			for j := range fast[i].Actions[k] {
				worst = max(worst, math.Abs(float64(fast[i].Actions[k][j]-dn[i].Actions[k][j])))
			}
		}
	}
	t.Logf("max |dnnl - fast| action = %.3g", worst)
	if worst > 1e-2 {
		t.Errorf("max |dnnl - fast| action = %g", worst)
	}
}
