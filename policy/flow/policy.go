package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/policy"
)

// Name is the backend name.
const Name = "flow"

// DefaultGuidance is the classifier-free guidance weight on metadata.
const DefaultGuidance = 1.5

// EulerSteps is the number of integration steps from noise to actions.
const EulerSteps = 10

func init() {
	policy.Register(Name, func(ctx context.Context, opts policy.Options) (policy.Policy, error) {
		return New(ctx, opts)
	})
}

// New opens the policy backend options describe: "checkpoint" (required),
// "cfg" (guidance weight), "temperature" (the initial noise's scale) and
// "seed". Other keys are left to wrappers of
// this backend (package foresight reads "adapter").
func New(_ context.Context, opts policy.Options) (*Policy, error) {
	path := opts["checkpoint"]
	if path == "" {
		return nil, fmt.Errorf("%w: flow needs option checkpoint", policy.ErrBadInput)
	}
	p, err := Load(path)
	if err != nil {
		return nil, err
	}
	if s, ok := opts["cfg"]; ok {
		b, err := strconv.ParseFloat(s, 64)
		if err != nil || b < 0 {
			return nil, fmt.Errorf("%w: flow option cfg=%q: want a number >= 0", policy.ErrBadInput, s)
		}
		p.Guidance = b
	}
	if s, ok := opts["temperature"]; ok {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("%w: flow option temperature=%q: want a number in [0, 1]", policy.ErrBadInput, s)
		}
		p.Temperature = v
	}
	switch s := opts["inference"]; s {
	case "", "dnnl", "fast":
		p.Inference = s
	default:
		return nil, fmt.Errorf("%w: flow option inference=%q: want dnnl or fast", policy.ErrBadInput, s)
	}
	if s, ok := opts["seed"]; ok {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: flow option seed=%q: %v", policy.ErrBadInput, s, err)
		}
		p.Seed = v
	}
	return p, nil
}

// Policy is a trained flow-matching policy. It is safe for concurrent use
// (Guidance and Seed are set before use).
type Policy struct {
	cfg  ModelConfig
	ps   *nn.Params
	info map[string]string
	// Guidance is the classifier-free guidance weight on metadata: 1 uses
	// the conditional velocity only, 0 ignores the metadata.
	Guidance float64
	// Temperature scales the initial noise (1: as trained). Below 1 the
	// sampler starts nearer the mean of the noise and lands nearer a mode
	// of the chunk distribution: less varied, more precise chunks.
	Temperature float64
	// Seed makes the initial noise a function of (Seed, observation), so
	// the same call gives the same chunk.
	Seed uint64
	// Adapter, when set, corrects the head's velocity at every Euler step
	// (before guidance combines the rows); nil leaves the policy as trained.
	Adapter Adapter
	// Inference picks the pixel encoder's forward pass: "" (oneDNN,
	// falling back to fast for good if oneDNN cannot build it), "dnnl"
	// or "fast" (im2col + OpenBLAS, the reference).
	Inference string

	dnnl *dnnlPool
}

// Load opens a checkpoint directory, or a training output directory's
// latest checkpoint.
func Load(path string) (*Policy, error) {
	c, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		return nil, err
	}
	var sc savedConfig
	if err := json.Unmarshal(c.Config, &sc); err != nil {
		return nil, fmt.Errorf("%w: %s: config: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if err := sc.Model.validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	ps := newParams(sc.Model, 0)
	if err := ps.Load(c); err != nil {
		return nil, err
	}
	p := newPolicy(sc.Model, ps)
	p.info = map[string]string{
		"backend": Name, "checkpoint": c.Dir, "step": strconv.Itoa(c.Step),
		"checkpoint_format": c.Format, "checkpoint_version": strconv.Itoa(c.Version),
		"data_hash": c.DataHash, "weights_sha256": c.Files[checkpoint.WeightsFile].SHA256,
	}
	if sc.Model.pose() {
		p.info["encoder"] = EncoderPose
	}
	return p, nil
}

func newPolicy(c ModelConfig, ps *nn.Params) *Policy {
	temp := c.Temperature
	if temp == 0 {
		temp = 1
	}
	p := &Policy{cfg: c, ps: ps, Guidance: DefaultGuidance, Temperature: temp, info: map[string]string{"backend": Name}, dnnl: &dnnlPool{}}
	// A backstop for policies nobody closes (DAgger rounds load one per
	// round): their idle oneDNN encoders' C memory goes when they do.
	runtime.AddCleanup(p, func(pool *dnnlPool) { pool.Close() }, p.dnnl)
	return p
}

// Spec implements policy.Policy.
func (p *Policy) Spec() policy.Spec {
	c := p.cfg
	return policy.Spec{FrameH: c.FrameH, FrameW: c.FrameW, Channels: 3, ProprioDim: c.ProprioDim,
		ActionDim: c.ActionDim, ChunkLen: c.Horizon, ControlHz: 10, Execute: c.Execute}
}

// Describe implements policy.Describer.
func (p *Policy) Describe() map[string]string {
	out := map[string]string{"guidance": strconv.FormatFloat(p.Guidance, 'g', -1, 64),
		"temperature": strconv.FormatFloat(p.Temperature, 'g', -1, 64)}
	for k, v := range p.info {
		out[k] = v
	}
	if !p.cfg.pose() {
		out["inference"] = p.inferenceName()
	}
	if d, ok := p.Adapter.(policy.Describer); ok {
		for k, v := range d.Describe() {
			out["adapter_"+k] = v
		}
	}
	return out
}

// Act implements policy.Policy: one action chunk per observation, sampled
// with EulerSteps Euler steps from noise, with guidance on the metadata.
func (p *Policy) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	spec := p.Spec()
	if err := spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	n := len(obs)
	if n == 0 {
		return nil, nil
	}
	c := p.cfg
	// The gemms are small: one OpenBLAS thread each, the observations
	// spread over the cores.
	defer openblas.Serial()()
	od, cx, cd := c.obsDim(), c.ctxDim(), c.chunkDim()
	feat := make([]float32, n*od)
	workers := min(n, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	if c.pose() {
		errs := make([]error, n)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += workers {
					errs[i] = c.poseObs(feat[i*od:(i+1)*od], obs[i].Image, obs[i].Proprio)
				}
			}(w)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("%w: %v", policy.ErrBadInput, err)
		}
		workers = 0
	}
	if workers > 0 && p.Inference != "fast" {
		err := p.encodeDnnl(feat, obs)
		var un *dnnlUnavailable
		switch {
		case err == nil:
			workers = 0
		case p.Inference == "" && errors.As(err, &un):
			// Encoded on the fast pass below.
		default:
			return nil, err
		}
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f := newFastNet(c, p.ps)
			in := 3 * c.inH() * c.inW()
			pooled := make([]uint8, in)
			img, prop := make([]float32, in), make([]float32, c.ProprioDim)
			for i := w; i < n; i += workers {
				poolFrame(pooled, obs[i].Image, c.FrameH, c.FrameW, c.Pool)
				bytesToUnit(img, pooled)
				for j, v := range obs[i].Proprio {
					prop[j] = c.norm(v)
				}
				f.encode(feat[i*od:(i+1)*od], img, prop)
			}
		}(w)
	}
	wg.Wait()
	f := newFastNet(c, p.ps)
	// Guidance needs a second, metadata-free row per observation, unless
	// it cannot change anything.
	guided := p.Guidance != 1 && steer != nil
	rows := n
	if guided {
		rows = 2 * n
	}
	hobs, hctx := make([]float32, rows*od), make([]float32, rows*cx)
	for i := 0; i < n; i++ {
		var sc policy.Context
		if steer != nil {
			sc = steer[i]
		}
		copy(hobs[i*od:(i+1)*od], feat[i*od:(i+1)*od])
		c.encodeContext(hctx[i*cx:(i+1)*cx], sc, false)
		if guided {
			copy(hobs[(n+i)*od:(n+i+1)*od], feat[i*od:(i+1)*od])
			c.encodeContext(hctx[(n+i)*cx:(n+i+1)*cx], sc, true)
		}
	}
	// Each observation's noise is its own, so its chunk does not depend on
	// the rest of the batch.
	x := make([]float32, n*cd)
	for i, o := range obs {
		rng := rand.New(rand.NewPCG(p.Seed, noiseKey(o)))
		for j := range cd {
			x[i*cd+j] = float32(p.Temperature * rng.NormFloat64())
		}
	}
	xt, temb := make([]float32, rows*cd), make([]float32, rows*c.TimeDim)
	dt := -1.0 / EulerSteps
	beta := float32(p.Guidance)
	for k := 0; k < EulerSteps; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := 1 + float64(k)*dt
		copy(xt, x)
		if guided {
			copy(xt[n*cd:], x)
		}
		for r := 0; r < rows; r++ {
			timeEmbedding(temb[r*c.TimeDim:(r+1)*c.TimeDim], t)
		}
		v, err := f.velocity(xt, temb, hobs, hctx, nil, rows)
		if err != nil {
			return nil, err
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
				vel = vu + beta*(vel-vu)
			}
			x[i] += float32(dt) * vel
		}
	}
	out := make([]policy.Chunk, n)
	for i := range out {
		acts := make([][]float32, c.Horizon)
		for hh := range acts {
			a := make([]float32, c.ActionDim)
			for j := range a {
				var p float32
				if j < len(obs[i].Proprio) {
					p = obs[i].Proprio[j]
				}
				a[j] = c.action(x[i*cd+hh*c.ActionDim+j], p)
			}
			acts[hh] = a
		}
		out[i].Actions = acts
	}
	return out, nil
}

// noiseKey hashes an observation's proprio so the initial noise depends on
// what is seen (repeatable calls), not on call order or batch.
func noiseKey(o policy.Observation) uint64 {
	h := uint64(14695981039346656037)
	for _, v := range o.Proprio {
		h ^= uint64(int64(v * 1024))
		h *= 1099511628211
	}
	return h
}
