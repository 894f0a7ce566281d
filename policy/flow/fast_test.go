package flow

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastMatchesGraph checks the inference pass against the gorgonia
// graphs that train the network, on random weights and inputs.
//
// Within 1e-4 on values of order 1: the two take the same products in other
// gemm shapes (the fast encoder one image at a time, the graph the batch)
// and kernels (OpenBLAS's, whichever the CPU gets, or gonum's), and float32
// sums of K terms differ by about K*eps relative, K <= 288 here, eps 6e-8:
// up to 2e-5 per layer. Measured 1e-7 to 9e-7 with the Prescott, Haswell
// and SkylakeX kernels. A wrong weight, bias or layer is off by 1e-2 or more.
func TestFastMatchesGraph(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   ModelConfig
		batch int
	}{
		{"tiny", tinyModel(), 3},
		{"default", DefaultModelConfig(), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			ps := newParams(c, 11)
			rng := rand.New(rand.NewPCG(5, 6))
			fill := func(v []float32, scale float64) {
				for i := range v {
					v[i] = float32(rng.Float64() * scale)
				}
			}
			// Non-zero biases, so their handling is tested too.
			for _, p := range ps.List {
				if len(p.Shape) == 1 {
					fill(p.Data(), 0.1)
				}
			}
			eg, err := newEncodeGraph(ps, c, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			fill(eg.img.Data(), 1)
			fill(eg.proprio.Data(), 2)
			want, err := eg.run()
			if err != nil {
				t.Fatal(err)
			}
			f := newFastNet(c, ps)
			in, od := 3*c.inH()*c.inW(), c.obsDim()
			got := make([]float32, tc.batch*od)
			for b := 0; b < tc.batch; b++ {
				f.encode(got[b*od:(b+1)*od], eg.img.Data()[b*in:(b+1)*in], eg.proprio.Data()[b*c.ProprioDim:(b+1)*c.ProprioDim])
			}
			d := maxDiff(got, want)
			t.Logf("encoder: max |fast - graph| = %.3g, max |graph| = %.3g", d, maxAbs(want))
			if d > 1e-4 {
				t.Errorf("encoder: max |fast - graph| = %g", d)
			}

			hg, err := newHeadGraph(ps, c, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			fill(hg.xt.Data(), 2)
			fill(hg.temb.Data(), 1)
			fill(hg.obs.Data(), 1)
			fill(hg.ctx.Data(), 1)
			wantV, err := hg.run()
			if err != nil {
				t.Fatal(err)
			}
			gotV, err := f.velocity(hg.xt.Data(), hg.temb.Data(), hg.obs.Data(), hg.ctx.Data(), nil, tc.batch)
			if err != nil {
				t.Fatal(err)
			}
			d = maxDiff(gotV, wantV)
			t.Logf("head: max |fast - graph| = %.3g, max |graph| = %.3g", d, maxAbs(wantV))
			if d > 1e-4 {
				t.Errorf("head: max |fast - graph| = %g", d)
			}
		})
	}
}

func maxDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

func maxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
