package flow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/policy"
)

// The sampler on the inference path: Act's 10 Euler steps of the flow head
// for a batch, after the front end. The observations are split into one
// group per core, each integrated on its own goroutine from start to end
// (no synchronisation between steps). A step of a group is one oneDNN plan
// run (dnnlHead: every layer one inner product over the group's rows, bias,
// SiLU and residual sum fused) or, for small groups and with inference
// "fast", one OpenBLAS sgemm per layer with the bias and SiLU (and the
// residual sum) in one pass of Go over the result. Workspaces and oneDNN
// plans are pooled: a call allocates the chunks it returns and little
// else. fastNet.velocity, which builds its inputs afresh per step, is the
// reference (head_test.go).

// headWork is one group's workspace.
type headWork struct {
	// x is the head's input rows: [x_t | temb | obs | ctx]; obs and ctx
	// are written once per call, x_t and temb at every step.
	x      []float32
	h, r   []float32 // rows x Hidden
	v      []float32 // rows x ChunkDim: the velocity
	obs    []float32 // rows x ObsDim, for an ObsAdapter
	xs     []float32 // n x ChunkDim: the samples being integrated
	layers []Dense
	// rng draws the initial noise from pcg, seeded per observation (a
	// Rand keeps no state of its own).
	pcg rand.PCG
	rng *rand.Rand
}

// Dense is a dense layer's weights (In x Out, row-major: y = x W + B) and
// biases.
type Dense struct {
	W, B    []float32
	In, Out int
}

// headLayers are the head's layers in order (in, h1.., out), sharing ps's
// values.
func headLayers(c ModelConfig, ps *nn.Params) []Dense {
	names := []string{"in"}
	for l := 1; l < c.Layers; l++ {
		names = append(names, fmt.Sprintf("h%d", l))
	}
	var out []Dense
	for _, name := range append(names, "out") {
		w, b := ps.Get(name+".w"), ps.Get(name+".b")
		out = append(out, Dense{W: w.Data(), B: b.Data(), In: w.Shape[0], Out: w.Shape[1]})
	}
	return out
}

// stepEmbeddings is the time embedding of every Euler step, EulerSteps
// rows of td values (the same for every row of a step, so computed once).
func stepEmbeddings(td int) []float32 {
	out := make([]float32, EulerSteps*td)
	for k := range EulerSteps {
		timeEmbedding(out[k*td:(k+1)*td], stepTime(k))
	}
	return out
}

// stepTime is the flow time of Euler step k (1 at the first, noise).
func stepTime(k int) float64 { return 1 + float64(k)*(-1.0/EulerSteps) }

// Features computes the observation feature the flow head sees for each
// observation (len(obs) x ObsDim, row-major): the pose reader's feature or
// the pixel encoder's keypoints, then the normalised proprio. Act is
// Features then ActFeatures.
func (p *Policy) Features(ctx context.Context, obs []policy.Observation) ([]float32, error) {
	if err := p.Spec().ValidateInput(obs, nil); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	defer openblas.Serial()()
	feat := make([]float32, len(obs)*p.cfg.obsDim())
	if err := p.features(feat, obs); err != nil {
		return nil, err
	}
	return feat, nil
}

// ActFeatures is Act given the observation features of obs (feat, as
// Features computes them): the flow head's Euler steps with guidance and
// the adapter, then the actions. obs supplies the proprio (the noise's key
// and the pusher relative actions are offsets from); its images are not
// read.
func (p *Policy) ActFeatures(ctx context.Context, feat []float32, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if err := p.Spec().ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	if len(feat) != len(obs)*p.cfg.obsDim() {
		return nil, fmt.Errorf("%w: %d feature values for %d observations of %d", policy.ErrBadInput, len(feat), len(obs), p.cfg.obsDim())
	}
	return p.sample(ctx, feat, obs, steer)
}

// sample runs the head on groups of obs, one per core, and returns the
// chunks.
func (p *Policy) sample(ctx context.Context, feat []float32, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	n := len(obs)
	if n == 0 {
		return nil, nil
	}
	c := p.cfg
	defer openblas.Serial()()
	out := newChunks(n, c.Horizon, c.ActionDim)
	g := min(n, runtime.GOMAXPROCS(0))
	if g == 1 {
		return out, p.sampleGroup(ctx, feat, obs, steer, 0, n, out)
	}
	errs := make([]error, g)
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() { errs[i] = p.sampleGroup(ctx, feat, obs, steer, i*n/g, (i+1)*n/g, out) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newChunks allocates n chunks of h actions of d values in three blocks.
func newChunks(n, h, d int) []policy.Chunk {
	vals, acts := make([]float32, n*h*d), make([][]float32, n*h)
	for i := range acts {
		acts[i] = vals[i*d : (i+1)*d : (i+1)*d]
	}
	out := make([]policy.Chunk, n)
	for i := range out {
		out[i].Actions = acts[i*h : (i+1)*h : (i+1)*h]
	}
	return out
}

// sampleGroup integrates the chunks of observations lo..hi-1 into out.
func (p *Policy) sampleGroup(ctx context.Context, feat []float32, obs []policy.Observation, steer []policy.Context, lo, hi int, out []policy.Chunk) error {
	c := p.cfg
	n := hi - lo
	cd, td, od, cx := c.chunkDim(), c.TimeDim, c.obsDim(), c.ctxDim()
	in := cd + td + od + cx
	// Guidance needs a second, metadata-free row per observation, unless
	// it cannot change anything.
	guided := p.Guidance != 1 && steer != nil
	rows := n
	if guided {
		rows = 2 * n
	}
	w, _ := p.work.Get().(*headWork)
	if w == nil {
		w = &headWork{}
		w.rng = rand.New(&w.pcg)
	}
	defer p.work.Put(w)
	w.layers = p.layers
	var pass headPass = w.sized(rows, in, c.Hidden, cd)
	mlp, _ := p.Adapter.(MLPAdapter)
	if p.Inference != "fast" && rows >= minDnnlHeadRows {
		h, err := p.acquireHead(rows, mlp)
		switch {
		case err == nil:
			defer p.releaseHead(h)
			pass = h
		case p.Inference != "":
			return err
		}
	}
	x := pass.input()
	// An adapter runs in the pass (writing its time and observation
	// columns), or is called after it.
	fused := pass.adapterInput()
	adapter := p.Adapter
	if fused != nil {
		adapter = nil
	}
	oa, hasObsAdapter := adapter.(ObsAdapter)
	w.xs = grow(w.xs, n*cd)
	if hasObsAdapter {
		w.obs = grow(w.obs, rows*od)
	}
	tw := 0 // the fused adapter's columns per row: temb, and obs when it reads them
	if fused != nil {
		tw = len(fused) / dnnlHeadRows(rows)
	}
	for i := range n {
		var sc policy.Context
		if steer != nil {
			sc = steer[lo+i]
		}
		f := feat[(lo+i)*od : (lo+i+1)*od]
		for r := i; r < rows; r += n { // the row, then its metadata-free twin
			row := x[r*in : (r+1)*in]
			copy(row[cd+td:], f)
			c.encodeContext(row[cd+td+od:], sc, r >= n)
			if hasObsAdapter {
				copy(w.obs[r*od:], f)
			}
			if tw > td {
				copy(fused[r*tw+td:(r+1)*tw], f)
			}
		}
		// Each observation's noise is its own, so its chunk does not
		// depend on the rest of the batch.
		w.pcg.Seed(p.Seed, noiseKey(obs[lo+i]))
		for j := range cd {
			w.xs[i*cd+j] = float32(p.Temperature * w.rng.NormFloat64())
		}
	}
	dt := float32(-1.0 / EulerSteps)
	beta := float32(p.Guidance)
	for k := range EulerSteps {
		if err := ctx.Err(); err != nil {
			return err
		}
		te := p.temb[k*td : (k+1)*td]
		for r := range rows {
			row := x[r*in : (r+1)*in]
			copy(row[:cd], w.xs[(r%n)*cd:(r%n+1)*cd])
			copy(row[cd:cd+td], te)
			if tw > 0 {
				copy(fused[r*tw:r*tw+td], te)
			}
		}
		if err := pass.forward(rows); err != nil {
			return err
		}
		v := pass.velocity()[:rows*cd]
		t := stepTime(k)
		if hasObsAdapter {
			oa.AdaptObs(v, w.obs, t, rows)
		} else if adapter != nil {
			adapter.Adapt(v, t, rows)
		}
		for i, vel := range v[:n*cd] {
			if guided {
				vu := v[n*cd+i]
				vel = vu + beta*(vel-vu)
			}
			w.xs[i] += dt * vel
		}
	}
	for i := range n {
		o := obs[lo+i]
		for hh, a := range out[lo+i].Actions {
			for j := range a {
				var pv float32
				if j < len(o.Proprio) {
					pv = o.Proprio[j]
				}
				a[j] = c.action(w.xs[i*cd+hh*c.ActionDim+j], pv)
			}
		}
	}
	return nil
}

// headPass computes the head's velocity for the first rows rows of its
// input: on OpenBLAS (*headWork) or oneDNN (*dnnlHead).
type headPass interface {
	// input is the rows' input, [x_t | temb | obs | ctx] each, which the
	// sampler writes; velocity the rows' velocity after forward.
	input() []float32
	velocity() []float32
	forward(rows int) error
	// adapterInput is the rows' [temb | obs] input of an adapter the pass
	// runs itself (nil: none; the sampler calls Policy.Adapter).
	adapterInput() []float32
}

// sized makes w's OpenBLAS buffers fit rows rows.
func (w *headWork) sized(rows, in, hidden, cd int) *headWork {
	w.x, w.h, w.r = grow(w.x, rows*in), grow(w.h, rows*hidden), grow(w.r, rows*hidden)
	w.v = grow(w.v, rows*cd)
	return w
}

func (w *headWork) input() []float32        { return w.x }
func (w *headWork) velocity() []float32     { return w.v }
func (w *headWork) adapterInput() []float32 { return nil }
func (w *headWork) forward(rows int) error {
	headForward(w, w.layers, rows)
	return nil
}

// headForward computes the velocity w.v of rows rows of w.x: h =
// silu(x W_in + b), h += silu(h W_l + b_l) per hidden layer, v = h W_out +
// b_out.
func headForward(w *headWork, layers []Dense, rows int) {
	first, last := layers[0], layers[len(layers)-1]
	first.Affine(w.x, w.h, rows)
	SiLU(w.h[:rows*first.Out])
	for _, l := range layers[1 : len(layers)-1] {
		l.Affine(w.h, w.r, rows)
		for i, v := range w.r[:rows*l.Out] {
			w.h[i] += nn.SiLUf(v)
		}
	}
	last.Affine(w.h, w.v, rows)
}

// Affine writes x W + B for rows rows of x into y: the bias rows, then one
// OpenBLAS sgemm accumulating onto them (the caller holds an
// openblas.Serial section when it spreads rows over the cores itself).
func (l Dense) Affine(x, y []float32, rows int) {
	y = y[:rows*l.Out]
	for r := range rows {
		copy(y[r*l.Out:(r+1)*l.Out], l.B)
	}
	gemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, l.Out, l.In, 1, x[:rows*l.In], l.In, l.W, l.Out, 1, y, l.Out)
}

// SiLU applies x / (1 + e^-x) to x in place, in float32 (nn.SiLUf), as the
// head's layers on the inference path do.
func SiLU(x []float32) {
	for i, v := range x {
		x[i] = nn.SiLUf(v)
	}
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}
