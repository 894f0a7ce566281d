package flow

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"dreamrank/policy"
)

// referenceSample is the sampler as Act computed it before head.go: the
// whole batch's rows through fastNet.velocity at every step, inputs built
// afresh. The actions of each observation, flattened.
func referenceSample(p *Policy, feat []float32, obs []policy.Observation, steer []policy.Context) []float32 {
	c := p.cfg
	n, od, cx, cd := len(obs), c.obsDim(), c.ctxDim(), c.chunkDim()
	f := newFastNet(c, p.ps)
	guided := p.Guidance != 1 && steer != nil
	rows := n
	if guided {
		rows = 2 * n
	}
	hobs, hctx := make([]float32, rows*od), make([]float32, rows*cx)
	for i := range n {
		var sc policy.Context
		if steer != nil {
			sc = steer[i]
		}
		copy(hobs[i*od:], feat[i*od:(i+1)*od])
		c.encodeContext(hctx[i*cx:(i+1)*cx], sc, false)
		if guided {
			copy(hobs[(n+i)*od:], feat[i*od:(i+1)*od])
			c.encodeContext(hctx[(n+i)*cx:(n+i+1)*cx], sc, true)
		}
	}
	x := make([]float32, n*cd)
	for i, o := range obs {
		rng := rand.New(rand.NewPCG(p.Seed, noiseKey(o)))
		for j := range cd {
			x[i*cd+j] = float32(p.Temperature * rng.NormFloat64())
		}
	}
	xt, temb := make([]float32, rows*cd), make([]float32, rows*c.TimeDim)
	dt := -1.0 / EulerSteps
	for k := range EulerSteps {
		t := 1 + float64(k)*dt
		copy(xt, x)
		if guided {
			copy(xt[n*cd:], x)
		}
		for r := range rows {
			timeEmbedding(temb[r*c.TimeDim:(r+1)*c.TimeDim], t)
		}
		v, err := f.velocity(xt, temb, hobs, hctx, nil, rows)
		if err != nil {
			panic(err)
		}
		if oa, ok := p.Adapter.(ObsAdapter); ok {
			oa.AdaptObs(v, hobs, t, rows)
		} else if p.Adapter != nil {
			p.Adapter.Adapt(v, t, rows)
		}
		for i := range x {
			vel := v[i]
			if guided {
				vu := v[n*cd+i]
				vel = vu + float32(p.Guidance)*(vel-vu)
			}
			x[i] += float32(dt) * vel
		}
	}
	out := make([]float32, 0, n*cd)
	for i, o := range obs {
		for j := range cd {
			out = append(out, c.action(x[i*cd+j], o.Proprio[j%c.ActionDim]))
		}
	}
	return out
}

// obsAdapter is a fixed ObsAdapter: v += 0.1 t obs[0] + 0.01 j, so a row's
// correction depends on its own observation and the flow time.
type obsAdapter struct{ cd, od int }

func (a obsAdapter) Adapt(v []float32, t float64, rows int) { panic("Act must call AdaptObs") }

func (a obsAdapter) AdaptObs(v, obs []float32, t float64, rows int) {
	for r := range rows {
		for j := range a.cd {
			v[r*a.cd+j] += 0.1*float32(t)*obs[r*a.od] + 0.01*float32(j)
		}
	}
}

// plainAdapter is a fixed Adapter: v -= 0.05 v t.
type plainAdapter struct{}

func (plainAdapter) Adapt(v []float32, t float64, rows int) {
	for i := range v { // rows x ChunkDim
		v[i] -= 0.05 * v[i] * float32(t)
	}
}

// mlpAdapter is a random SiLU MLP adapter (an MLPAdapter) whose Adapt is
// computed in float64: the reference of the oneDNN plans that fuse it.
type mlpAdapter struct {
	layers []Dense
	obs    bool
	td     int
}

func newMLPAdapter(c ModelConfig, hidden int, obs bool, seed uint64) *mlpAdapter {
	rng := rand.New(rand.NewPCG(seed, 1))
	in := c.chunkDim() + c.TimeDim
	if obs {
		in += c.obsDim()
	}
	a := &mlpAdapter{obs: obs, td: c.TimeDim}
	for _, d := range [][2]int{{in, hidden}, {hidden, hidden}, {hidden, c.chunkDim()}} {
		l := Dense{W: make([]float32, d[0]*d[1]), B: make([]float32, d[1]), In: d[0], Out: d[1]}
		for i := range l.W {
			l.W[i] = float32(rng.NormFloat64() / math.Sqrt(float64(d[0])))
		}
		for i := range l.B {
			l.B[i] = float32(rng.Float64()*0.2 - 0.1)
		}
		a.layers = append(a.layers, l)
	}
	return a
}

func (a *mlpAdapter) MLP() []Dense                           { return a.layers }
func (a *mlpAdapter) ReadsObs() bool                         { return a.obs }
func (a *mlpAdapter) Adapt(v []float32, t float64, rows int) { a.AdaptObs(v, nil, t, rows) }

func (a *mlpAdapter) AdaptObs(v, obs []float32, t float64, rows int) {
	cd := a.layers[len(a.layers)-1].Out
	temb := make([]float32, a.td)
	timeEmbedding(temb, t)
	for r := range rows {
		x := append(append([]float32{}, v[r*cd:(r+1)*cd]...), temb...)
		if a.obs {
			od := a.layers[0].In - cd - a.td
			x = append(x, obs[r*od:(r+1)*od]...)
		}
		for i, l := range a.layers {
			y := make([]float32, l.Out)
			for j := range l.Out {
				s := float64(l.B[j])
				for k, xv := range x {
					s += float64(xv) * float64(l.W[k*l.Out+j])
				}
				if i < len(a.layers)-1 {
					s /= 1 + math.Exp(-s)
				}
				y[j] = float32(s)
			}
			x = y
		}
		for j, g := range x {
			v[r*cd+j] += g
		}
	}
}

// TestSampleMatchesReference: the sampler (groups over the cores, pooled
// workspaces, the observation and context columns written once) gives the
// reference's actions, for batch sizes that split unevenly into groups,
// with and without guidance and adapters, on the pose and pixel models'
// head shapes (random weights, non-zero biases, random features).
//
// Within 1e-3 table units: both take the same products, but the gemms see
// other row counts (a group's rather than the batch's), so OpenBLAS may
// block them differently; float32 sums of up to 543 terms then differ by
// about 1e-5 relative in the velocity, which 10 steps of dt = 0.1 and the
// action scale (256 table units per normalised unit, over Relative = 4 for
// relative heads) leave near 1e-4. A wrong column, row pairing, time
// embedding or adapter input moves actions by whole units.
func TestSampleMatchesReference(t *testing.T) {
	q := 5
	steered := func(n int) []policy.Context {
		s := make([]policy.Context, n)
		for i := range s {
			s[i] = policy.Context{Task: fmt.Sprintf("push the T %d", i), Metadata: policy.Metadata{Quality: q, Speed: policy.SpeedFast}}
		}
		return s
	}
	pose := PoseModelConfig()
	pose.Hidden = 512
	for _, tc := range []struct {
		name     string
		cfg      ModelConfig
		n        int
		steer    bool
		guidance float64
		adapter  func(c ModelConfig) Adapter
		// inference: "" (groups of 16 rows or more on oneDNN) or "fast".
		inference string
	}{
		{"pose batch 1 guided", pose, 1, true, 1.5, nil, ""},
		{"pose batch 5 guided", pose, 5, true, 1.5, nil, ""},
		{"pose batch 3 unsteered", pose, 3, false, 1.5, nil, ""},
		{"pose batch 4 steered unguided", pose, 4, true, 1, nil, ""},
		{"pose batch 3 obs adapter", pose, 3, true, 1.5, func(c ModelConfig) Adapter { return obsAdapter{c.chunkDim(), c.obsDim()} }, ""},
		{"pose batch 2 plain adapter", pose, 2, true, 1.5, func(ModelConfig) Adapter { return plainAdapter{} }, ""},
		{"pixel batch 3 guided", DefaultModelConfig(), 3, true, 1.5, nil, ""},
		{"tiny batch 7", tinyModel(), 7, true, 2, nil, ""},
		{"pose batch 16 guided oneDNN", pose, 16, true, 1.5, nil, ""},
		{"pose batch 16 guided fast", pose, 16, true, 1.5, nil, "fast"},
		{"pose batch 24 obs adapter oneDNN padded", pose, 24, true, 1.5, func(c ModelConfig) Adapter { return obsAdapter{c.chunkDim(), c.obsDim()} }, ""},
		{"pose batch 40 unsteered oneDNN", pose, 40, false, 1.5, nil, ""},
		{"tiny batch 32 oneDNN", tinyModel(), 32, true, 2, nil, ""},
		{"pose batch 1 MLP adapter called", pose, 1, true, 1.5, func(c ModelConfig) Adapter { return newMLPAdapter(c, 128, false, 1) }, ""},
		{"pose batch 16 MLP adapter fused", pose, 16, true, 1.5, func(c ModelConfig) Adapter { return newMLPAdapter(c, 128, false, 2) }, ""},
		{"pose batch 24 MLP adapter reading obs fused padded", pose, 24, true, 1.5, func(c ModelConfig) Adapter { return newMLPAdapter(c, 128, true, 3) }, ""},
		{"pose batch 16 MLP adapter reading obs fast", pose, 16, true, 1.5, func(c ModelConfig) Adapter { return newMLPAdapter(c, 128, true, 4) }, "fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			ps := newParams(c, 21)
			rng := rand.New(rand.NewPCG(4, 5))
			for _, p := range ps.List {
				if len(p.Shape) == 1 {
					for i := range p.Data() {
						p.Data()[i] = float32(rng.Float64()*0.2 - 0.1)
					}
				}
			}
			p := newPolicy(c, ps)
			defer p.Close()
			p.Guidance, p.Temperature, p.Seed, p.Inference = tc.guidance, 0.5, 3, tc.inference
			if tc.adapter != nil {
				p.Adapter = tc.adapter(c)
			}
			obs := randomObs(c, tc.n, 9)
			feat := make([]float32, tc.n*c.obsDim())
			for i := range feat {
				feat[i] = float32(rng.Float64()*2 - 1)
			}
			var steer []policy.Context
			if tc.steer {
				steer = steered(tc.n)
			}
			want := referenceSample(p, feat, obs, steer)
			chunks, err := p.ActFeatures(context.Background(), feat, obs, steer)
			if err != nil {
				t.Fatal(err)
			}
			var got []float32
			for _, ch := range chunks {
				for _, a := range ch.Actions {
					got = append(got, a...)
				}
			}
			// The first group's rows: on oneDNN from minDnnlHeadRows on.
			rows := tc.n / min(tc.n, runtime.GOMAXPROCS(0))
			if tc.steer && tc.guidance != 1 {
				rows *= 2
			}
			h, ok, _ := p.heads.Get(dnnlHeadRows(rows))
			if ok != (tc.inference == "" && rows >= minDnnlHeadRows) {
				t.Errorf("a oneDNN head for %d rows idle: %v (gave up: %v)", rows, ok, p.heads.givenUp())
			}
			if ok {
				if _, mlp := p.Adapter.(MLPAdapter); mlp != (h.adapterInput() != nil) {
					t.Errorf("the oneDNN head runs the MLP adapter: %v, want %v", !mlp, mlp)
				}
				p.releaseHead(h)
			}
			d := maxDiff(got, want)
			t.Logf("max |sample - reference| = %.3g table units", d)
			if d > 1e-3 || math.IsNaN(d) {
				t.Errorf("max |sample - reference| = %g table units", d)
			}
		})
	}
}
