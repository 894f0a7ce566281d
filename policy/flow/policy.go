package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
	// Inference picks the forward passes of the pixel encoder and the
	// head: "" (oneDNN, falling back to fast for good if oneDNN cannot
	// build it), "dnnl" or "fast" (im2col + OpenBLAS, the reference; the
	// head on OpenBLAS). The head's groups of fewer than minDnnlHeadRows
	// rows run on OpenBLAS in every mode.
	Inference string

	dnnl  *dnnlPool[*dnnlEncoder]
	heads *dnnlPool[*dnnlHead]
	// work pools the sampler's workspaces (*headWork); temb is every
	// Euler step's time embedding and layers the head's weights.
	work   sync.Pool
	temb   []float32
	layers []Dense
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
	p := &Policy{cfg: c, ps: ps, Guidance: DefaultGuidance, Temperature: temp, info: map[string]string{"backend": Name}, dnnl: &dnnlPool[*dnnlEncoder]{}, heads: &dnnlPool[*dnnlHead]{},
		temb: stepEmbeddings(c.TimeDim), layers: headLayers(c, ps)}
	// A backstop for policies nobody closes (DAgger rounds load one per
	// round): their idle oneDNN encoders' C memory goes when they do.
	runtime.AddCleanup(p, func(pool *dnnlPool[*dnnlEncoder]) { pool.Close() }, p.dnnl)
	runtime.AddCleanup(p, func(pool *dnnlPool[*dnnlHead]) { pool.Close() }, p.heads)
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
// with EulerSteps Euler steps from noise, with guidance on the metadata
// (Features, then ActFeatures).
func (p *Policy) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if err := p.Spec().ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	if len(obs) == 0 {
		return nil, nil
	}
	// The gemms are small: one OpenBLAS thread each, the observations
	// spread over the cores (for the head: sample's groups).
	defer openblas.Serial()()
	feat := make([]float32, len(obs)*p.cfg.obsDim())
	if err := p.features(feat, obs); err != nil {
		return nil, err
	}
	return p.sample(ctx, feat, obs, steer)
}

// features writes the observation features of obs into feat (ObsDim
// each), on the front end's path.
func (p *Policy) features(feat []float32, obs []policy.Observation) error {
	c := p.cfg
	n, od := len(obs), c.obsDim()
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
			return fmt.Errorf("%w: %v", policy.ErrBadInput, err)
		}
		return nil
	}
	if p.Inference != "fast" {
		err := p.encodeDnnl(feat, obs)
		var un *dnnlUnavailable
		switch {
		case err == nil:
			return nil
		case p.Inference == "" && errors.As(err, &un):
			// Encoded on the fast pass below.
		default:
			return err
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
	return nil
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
