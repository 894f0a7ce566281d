package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"dreamrank/foundation/openblas"
	"dreamrank/foundation/torchpeer"
	"dreamrank/worldmodel"
)

// ErrBadConfig reports an unusable configuration.
var ErrBadConfig = errors.New("bench: bad config")

// MaxRolloutSteps is where a timed rollout is closed and a new one started
// (PushT episodes last at most 300 steps), so models whose cost grows with
// the rollout's length are measured at lengths that occur.
const MaxRolloutSteps = 300

// Config tunes Run; zero values take the defaults.
type Config struct {
	// Batches to measure besides batch 1 (default 2, 4, 8, 16, 32).
	Batches []int
	Chunk   int // actions per Step call (8)
	// Warmup Step calls before timing each batch size (2).
	Warmup int
	// Duration of timed stepping per batch size (2 s); at least MinCalls
	// Step calls are timed (3) whatever the duration.
	Duration time.Duration
	MinCalls int
	// PeakSizes are the sgemm matrix sides for the peak (512 and 2048),
	// each timed for PeakDuration (1 s). SkipPeak leaves the peak out.
	PeakSizes    []int
	PeakDuration time.Duration
	SkipPeak     bool
	// BaselineBatches are the batch sizes besides 1 and the model's best
	// at which a worldmodel.Referencer's reference implementation is
	// measured (default 2, 4, 8); SkipBaseline leaves it out.
	BaselineBatches []int
	SkipBaseline    bool
	// Seed for the synthetic contexts and actions.
	Seed uint64
	// Peer, when PeerTorch, also runs the same model in PyTorch (backends
	// builtin and slots; see PeerReport): agreement on the same inputs,
	// then PeerRounds rounds (3) alternating Go and the peer.
	Peer        string
	PeerRounds  int
	PeerOptions torchpeer.Options
}

func (c Config) withDefaults() Config {
	if c.Batches == nil {
		c.Batches = []int{2, 4, 8, 16, 32}
	}
	if c.Chunk <= 0 {
		c.Chunk = 8
	}
	if c.Warmup <= 0 {
		c.Warmup = 2
	}
	if c.Duration <= 0 {
		c.Duration = 2 * time.Second
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 3
	}
	if c.PeakSizes == nil {
		c.PeakSizes = []int{512, 2048}
	}
	if c.PeakDuration <= 0 {
		c.PeakDuration = time.Second
	}
	if c.PeerRounds <= 0 {
		c.PeerRounds = 3
	}
	if c.BaselineBatches == nil {
		c.BaselineBatches = []int{2, 4, 8}
	}
	return c
}

// BatchResult is the measurement at one batch size.
type BatchResult struct {
	Batch     int     `json:"batch"`
	Calls     int     `json:"calls"`  // timed Step calls
	Frames    int     `json:"frames"` // imagined frames in them
	Seconds   float64 `json:"seconds"`
	FPS       float64 `json:"fps"`
	MsPerCall float64 `json:"ms_per_call"`
	GFLOPS    float64 `json:"gflops"`
	// MinorFaultsPerCall: page faults per timed call (the PyTorch peer's,
	// which depend on its allocator).
	MinorFaultsPerCall float64 `json:"minor_faults_per_call,omitempty"`
	// Threads: the intra-op threads the PyTorch peer ran this batch on (the
	// faster of 1 and the Go side's core count; 0 on the Go side).
	Threads int `json:"threads,omitempty"`
}

// Report is what Run measured.
type Report struct {
	FPSBatch1       float64            `json:"fps_batch1"`
	BestBatch       int                `json:"best_batch"`
	FPSBest         float64            `json:"fps_best"`
	GFLOPSBest      float64            `json:"gflops_best"`
	FLOPsPerStep    float64            `json:"flops_per_step"`
	SgemmPeakGFLOPS float64            `json:"sgemm_peak_gflops"`
	SgemmBySize     map[string]float64 `json:"sgemm_gflops_by_size,omitempty"`
	PercentOfPeak   float64            `json:"percent_of_peak"`
	Chunk           int                `json:"chunk"`
	Batches         []BatchResult      `json:"batches"`
	OpenBLASCore    string             `json:"openblas_core,omitempty"`
	OpenBLASThreads int                `json:"openblas_threads,omitempty"`
	GOMAXPROCS      int                `json:"gomaxprocs"`
	Model           map[string]string  `json:"model,omitempty"`
	// Baseline is the model's reference implementation measured in the
	// same run (models implementing worldmodel.Referencer), and Speedup*
	// the model's frames per second over the baseline's (-1 without one).
	Baseline      *Baseline `json:"baseline,omitempty"`
	SpeedupBatch1 float64   `json:"speedup_batch1"`
	SpeedupBest   float64   `json:"speedup_best"`
	// Peer is the same network in PyTorch, measured in the same run
	// (Config.Peer).
	Peer *PeerReport `json:"peer,omitempty"`
}

// Baseline is the reference implementation's measurement; its GFLOP/s
// count the same FLOPs per step and its percentage is of the same peak.
type Baseline struct {
	FPSBatch1     float64           `json:"fps_batch1"`
	BestBatch     int               `json:"best_batch"`
	FPSBest       float64           `json:"fps_best"`
	GFLOPSBest    float64           `json:"gflops_best"`
	PercentOfPeak float64           `json:"percent_of_peak"`
	Batches       []BatchResult     `json:"batches"`
	Model         map[string]string `json:"model,omitempty"`
}

// Run benchmarks m (see the package doc).
func Run(ctx context.Context, m worldmodel.Model, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	spec := m.Spec()
	if spec.FrameLen() <= 0 || spec.ActionDim <= 0 {
		return Report{}, fmt.Errorf("%w: model spec %+v", ErrBadConfig, spec)
	}
	batches := []int{1}
	for _, b := range cfg.Batches {
		if b < 1 {
			return Report{}, fmt.Errorf("%w: batch %d", ErrBadConfig, b)
		}
		if b != 1 {
			batches = append(batches, b)
		}
	}
	rep := Report{
		Chunk: cfg.Chunk, FLOPsPerStep: -1, GFLOPSBest: -1, SgemmPeakGFLOPS: -1, PercentOfPeak: -1,
		GOMAXPROCS: runtime.GOMAXPROCS(0),
	}
	if d, ok := m.(worldmodel.Describer); ok {
		rep.Model = d.Describe()
	}
	if fc, ok := m.(worldmodel.FLOPsCounter); ok {
		rep.FLOPsPerStep = fc.FLOPsPerStep()
	}
	// The peer starts (and checks agreement) first, so a missing torch or
	// a disagreement fails before minutes of timing; it idles on its stdin
	// while Go is timed.
	peer, err := startPeer(ctx, m, cfg)
	if err != nil {
		return Report{}, err
	}
	if peer != nil {
		defer peer.Close()
	}
	if !cfg.SkipPeak {
		rep.SgemmBySize = map[string]float64{}
		if err := measurePeak(ctx, cfg, &rep); err != nil {
			return Report{}, err
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xbe4c))
	if rep.Batches, err = measureAll(ctx, m, batches, cfg, rng, rep.FLOPsPerStep); err != nil {
		return Report{}, err
	}
	rep.FPSBatch1, rep.BestBatch, rep.FPSBest, rep.GFLOPSBest = summarize(rep.Batches)
	rep.SpeedupBatch1, rep.SpeedupBest = -1, -1
	if r, ok := m.(worldmodel.Referencer); ok && !cfg.SkipBaseline {
		bb := []int{1}
		for _, b := range append(slices.Clone(cfg.BaselineBatches), rep.BestBatch) {
			if b >= 1 && !slices.Contains(bb, b) {
				bb = append(bb, b)
			}
		}
		ref := r.Reference()
		res, err := measureAll(ctx, ref, bb, cfg, rng, rep.FLOPsPerStep)
		if err != nil {
			return Report{}, fmt.Errorf("baseline: %w", err)
		}
		base := &Baseline{Batches: res, PercentOfPeak: -1}
		base.FPSBatch1, base.BestBatch, base.FPSBest, base.GFLOPSBest = summarize(res)
		if d, ok := ref.(worldmodel.Describer); ok {
			base.Model = d.Describe()
		}
		rep.Baseline = base
		rep.SpeedupBatch1 = rep.FPSBatch1 / base.FPSBatch1
		rep.SpeedupBest = rep.FPSBest / base.FPSBest
	}
	if peer != nil {
		if rep.Peer, err = comparePeer(ctx, peer, m, cfg, &rep, rng); err != nil {
			return Report{}, err
		}
	}
	if !cfg.SkipPeak {
		if err := measurePeak(ctx, cfg, &rep); err != nil {
			return Report{}, err
		}
		rep.OpenBLASCore, rep.OpenBLASThreads = openblas.CoreName(), openblas.Threads()
		if rep.GFLOPSBest >= 0 && rep.SgemmPeakGFLOPS > 0 {
			rep.PercentOfPeak = 100 * rep.GFLOPSBest / rep.SgemmPeakGFLOPS
			if b := rep.Baseline; b != nil && b.GFLOPSBest >= 0 {
				b.PercentOfPeak = 100 * b.GFLOPSBest / rep.SgemmPeakGFLOPS
			}
		}
	}
	return rep, nil
}

// measurePeak measures the sgemm peak at every size and keeps the best of
// this and earlier measurements: Run measures before and after the model,
// so a peak depressed by other work on a shared machine during one of them
// does not flatter the model's percentage.
func measurePeak(ctx context.Context, cfg Config, rep *Report) error {
	for _, n := range cfg.PeakSizes {
		g := openblas.PeakGFLOPS(ctx, n, cfg.PeakDuration)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sgemm peak: %w", err)
		}
		k := fmt.Sprint(n)
		rep.SgemmBySize[k] = max(rep.SgemmBySize[k], g)
		rep.SgemmPeakGFLOPS = max(rep.SgemmPeakGFLOPS, g)
	}
	return nil
}

// measureAll measures m at every batch size; GFLOPS is -1 when flops is.
func measureAll(ctx context.Context, m worldmodel.Model, batches []int, cfg Config, rng *rand.Rand, flops float64) ([]BatchResult, error) {
	var out []BatchResult
	for _, b := range batches {
		res, err := measure(ctx, m, m.Spec(), b, cfg, rng, nil)
		if err != nil {
			return nil, fmt.Errorf("batch %d: %w", b, err)
		}
		res.GFLOPS = -1
		if flops >= 0 {
			res.GFLOPS = flops * res.FPS / 1e9
		}
		out = append(out, res)
	}
	return out, nil
}

// summarize picks batch 1's frames per second and the best batch.
func summarize(res []BatchResult) (fps1 float64, best int, fpsBest, gflopsBest float64) {
	for _, r := range res {
		if r.Batch == 1 {
			fps1 = r.FPS
		}
		if r.FPS > fpsBest {
			fpsBest, best, gflopsBest = r.FPS, r.Batch, r.GFLOPS
		}
	}
	return fps1, best, fpsBest, gflopsBest
}

// measure times Step calls at batch b after the warm-up calls, on work's
// episodes or, when it is nil, synthetic ones.
func measure(ctx context.Context, m worldmodel.Model, spec worldmodel.Spec, b int, cfg Config, rng *rand.Rand, work *workload) (BatchResult, error) {
	var (
		contexts [][]worldmodel.Observation
		actions  [][][]float32
	)
	if work != nil {
		contexts, actions = work.batch(b)
	} else {
		contexts = make([][]worldmodel.Observation, b)
		for i := range contexts {
			contexts[i] = observations(spec, max(spec.ContextLen, 1), rng)
		}
		actions = randomActions(spec, b, cfg.Chunk, rng)
	}
	var (
		ro      worldmodel.Rollout
		stepped int
	)
	defer func() {
		if ro != nil {
			ro.Close()
		}
	}()
	// step makes one Step call, restarting the rollout when it is long.
	step := func() (time.Duration, error) {
		if ro == nil || stepped+cfg.Chunk > MaxRolloutSteps {
			if ro != nil {
				ro.Close()
			}
			var err error
			if ro, err = m.Start(ctx, contexts); err != nil {
				ro = nil
				return 0, fmt.Errorf("start: %w", err)
			}
			stepped = 0
		}
		began := time.Now()
		out, err := ro.Step(ctx, actions)
		took := time.Since(began)
		if err != nil {
			return 0, fmt.Errorf("step: %w", err)
		}
		if len(out) != b {
			return 0, fmt.Errorf("step returned %d episodes, want %d: %w", len(out), b, worldmodel.ErrBadInput)
		}
		stepped += cfg.Chunk
		return took, nil
	}
	for range cfg.Warmup {
		if _, err := step(); err != nil {
			return BatchResult{}, err
		}
	}
	var total time.Duration
	calls := 0
	for calls < cfg.MinCalls || total < cfg.Duration {
		if err := ctx.Err(); err != nil {
			return BatchResult{}, err
		}
		d, err := step()
		if err != nil {
			return BatchResult{}, err
		}
		total += d
		calls++
	}
	sec := max(total.Seconds(), 1e-9)
	frames := calls * cfg.Chunk * b
	return BatchResult{
		Batch: b, Calls: calls, Frames: frames, Seconds: sec,
		FPS: float64(frames) / sec, MsPerCall: 1000 * sec / float64(calls),
	}, nil
}

// observations are synthetic but plausible inputs: a white table with
// noise, proprio inside the table. Dense models cost the same on any data.
func observations(spec worldmodel.Spec, n int, rng *rand.Rand) []worldmodel.Observation {
	out := make([]worldmodel.Observation, n)
	for i := range out {
		f := make([]uint8, spec.FrameLen())
		for j := range f {
			f[j] = uint8(200 + rng.IntN(56))
		}
		p := make([]float32, spec.ProprioDim)
		for j := range p {
			p[j] = float32(50 + rng.Float64()*412)
		}
		out[i] = worldmodel.Observation{Frame: f, Proprio: p}
	}
	return out
}

func randomActions(spec worldmodel.Spec, b, chunk int, rng *rand.Rand) [][][]float32 {
	a := make([][][]float32, b)
	for i := range a {
		a[i] = make([][]float32, chunk)
		for k := range a[i] {
			a[i][k] = make([]float32, spec.ActionDim)
			for j := range a[i][k] {
				a[i][k][j] = float32(50 + rng.Float64()*412)
			}
		}
	}
	return a
}
