package fidelity

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
)

// Metrics are the fidelity numbers of one model (see the package doc).
// Every key is a mean over windows; -1 means nothing was measured.
type Metrics struct {
	PSNR1             float64 `json:"psnr_1"`
	PSNR8             float64 `json:"psnr_8"`
	PSNR32            float64 `json:"psnr_32"`
	SSIM1             float64 `json:"ssim_1"`
	SSIM8             float64 `json:"ssim_8"`
	SSIM32            float64 `json:"ssim_32"`
	AgentErrPx1       float64 `json:"agent_err_px_1"`
	AgentErrPx8       float64 `json:"agent_err_px_8"`
	AgentErrPx32      float64 `json:"agent_err_px_32"`
	BlockErrPx1       float64 `json:"block_err_px_1"`
	BlockErrPx8       float64 `json:"block_err_px_8"`
	BlockErrPx32      float64 `json:"block_err_px_32"`
	BlockErrRad8      float64 `json:"block_err_rad_8"`
	BlockUnreadable8  float64 `json:"block_unreadable_8"`
	BlockUnreadable32 float64 `json:"block_unreadable_32"`
	CoverageErr32     float64 `json:"coverage_err_32"`
}

// Map returns the metrics by JSON key.
func (m Metrics) Map() map[string]float64 {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only float64 fields: cannot fail
	}
	out := map[string]float64{}
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// HigherIsBetter reports the direction of a metric key.
func HigherIsBetter(key string) bool {
	return strings.HasPrefix(key, "psnr") || strings.HasPrefix(key, "ssim")
}

// Report is the result of an evaluation. Its JSON has the model's metrics
// at the top level, then episodes, windows, and (EvaluateWithBaseline) the
// baseline's metrics and whether the model beats it per key.
type Report struct {
	Metrics
	Episodes      int             `json:"episodes"`
	Windows       int             `json:"windows"`
	Baseline      *Metrics        `json:"baseline,omitempty"`
	BeatsBaseline map[string]bool `json:"beats_baseline,omitempty"`
}

// Evaluate rolls m out over the windows of episodes (see Windows) and
// measures its predictions. progress (may be nil) gets (windows done,
// total) after each batch.
func Evaluate(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, cfg Config, progress func(done, total int)) (Report, error) {
	cfg = cfg.withDefaults()
	wins, err := Windows(episodes, m.Spec(), cfg)
	if err != nil {
		return Report{}, err
	}
	met, err := run(ctx, m, episodes, wins, cfg, progress, 0, len(wins))
	if err != nil {
		return Report{}, err
	}
	return Report{Metrics: met, Episodes: countEpisodes(wins), Windows: len(wins)}, nil
}

// EvaluateWithBaseline is Evaluate plus the copy-last baseline on the same
// windows. progress counts the windows of both passes.
func EvaluateWithBaseline(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, cfg Config, progress func(done, total int)) (Report, error) {
	cfg = cfg.withDefaults()
	spec := m.Spec()
	wins, err := Windows(episodes, spec, cfg)
	if err != nil {
		return Report{}, err
	}
	total := 2 * len(wins)
	met, err := run(ctx, m, episodes, wins, cfg, progress, 0, total)
	if err != nil {
		return Report{}, err
	}
	base, err := run(ctx, copylast.New(spec), episodes, wins, cfg, progress, len(wins), total)
	if err != nil {
		return Report{}, fmt.Errorf("baseline: %w", err)
	}
	return Report{
		Metrics: met, Episodes: countEpisodes(wins), Windows: len(wins),
		Baseline: &base, BeatsBaseline: Beats(met, base),
	}, nil
}

// Beats compares m with the baseline per key: strictly better in the
// key's direction; a key either side could not measure (-1) never beats.
// (SSIM can be legitimately negative and is measured whenever there are
// windows, so -1 is not treated as missing for it.) Block errors average
// only the frames where a block could be read, so a model whose frames are
// unreadable more often than the baseline's (by more than
// UnreadableSlack) does not beat it on block errors at that horizon: a
// mean over the few readable frames would flatter it.
func Beats(m, baseline Metrics) map[string]bool {
	mm, bm := m.Map(), baseline.Map()
	out := make(map[string]bool, len(mm))
	missing := func(k string, v float64) bool { return !strings.HasPrefix(k, "ssim") && v < 0 }
	for k, v := range mm {
		b := bm[k]
		switch {
		case missing(k, v) || missing(k, b):
			out[k] = false
		case HigherIsBetter(k):
			out[k] = v > b
		default:
			out[k] = v < b
		}
		if u, ok := unreadableKey[k]; ok && mm[u] > bm[u]+UnreadableSlack {
			out[k] = false
		}
	}
	return out
}

// UnreadableSlack is how much more often than the baseline a model's
// predicted frames may be unreadable before its block errors stop counting.
const UnreadableSlack = 0.05

// unreadableKey names the unreadable-frame rate behind each block metric.
var unreadableKey = map[string]string{
	"block_err_px_8": "block_unreadable_8", "block_err_rad_8": "block_unreadable_8",
	"block_err_px_32": "block_unreadable_32", "coverage_err_32": "block_unreadable_32",
}

func countEpisodes(wins []Window) int {
	seen := map[int]bool{}
	for _, w := range wins {
		seen[w.Episode] = true
	}
	return len(seen)
}

// pending is one prediction to compare with reality.
type pending struct {
	h    int // index into horizons
	pred worldmodel.Observation
	e    *episode.Episode
	t    int // the real step it predicts
	out  sample
	spec worldmodel.Spec
}

// run imagines every window, batch by batch, and averages the samples in
// window order (so the sums, and the report, are deterministic).
func run(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, wins []Window, cfg Config, progress func(done, total int), done, total int) (Metrics, error) {
	spec := m.Spec()
	var accs [len(horizons)]horizonAcc
	for lo := 0; lo < len(wins); lo += cfg.Batch {
		batch := wins[lo:min(len(wins), lo+cfg.Batch)]
		preds, err := imagineBatch(ctx, m, episodes, batch, cfg.Chunk)
		if err != nil {
			return Metrics{}, fmt.Errorf("windows %d..%d: %w", lo, lo+len(batch)-1, err)
		}
		var jobs []*pending
		for i, w := range batch {
			for h, step := range horizons {
				jobs = append(jobs, &pending{h: h, pred: preds[i][h], e: episodes[w.Episode], t: w.Start + step, spec: spec})
			}
		}
		if err := compareAll(ctx, jobs); err != nil {
			return Metrics{}, err
		}
		for _, j := range jobs {
			accs[j.h].add(j.out)
		}
		done += len(batch)
		if progress != nil {
			progress(done, total)
		}
	}
	return summarize(accs), nil
}

// imagineBatch starts one rollout for the batch and returns, per window,
// the predictions at each horizon.
func imagineBatch(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, batch []Window, chunk int) ([][len(horizons)]worldmodel.Observation, error) {
	spec := m.Spec()
	contexts := make([][]worldmodel.Observation, len(batch))
	for i, w := range batch {
		contexts[i] = w.context(episodes[w.Episode], spec)
	}
	ro, err := m.Start(ctx, contexts)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer ro.Close()
	out := make([][len(horizons)]worldmodel.Observation, len(batch))
	actions := make([][][]float32, len(batch))
	for stepped := 0; stepped < Horizon; {
		n := min(chunk, Horizon-stepped)
		for i, w := range batch {
			s := w.Start + stepped
			actions[i] = episodes[w.Episode].Actions[s : s+n]
		}
		got, err := ro.Step(ctx, actions)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", stepped, err)
		}
		if err := checkPrediction(got, len(batch), n, spec); err != nil {
			return nil, fmt.Errorf("step %d: %w", stepped, err)
		}
		for k := 0; k < n; k++ {
			for h, step := range horizons {
				if stepped+k+1 == step {
					for i := range batch {
						out[i][h] = got[i][k]
					}
				}
			}
		}
		stepped += n
	}
	return out, nil
}

func checkPrediction(got [][]worldmodel.Observation, batch, n int, spec worldmodel.Spec) error {
	if len(got) != batch {
		return fmt.Errorf("%w: %d episodes returned, want %d", ErrBadPrediction, len(got), batch)
	}
	for i, obs := range got {
		if len(obs) != n {
			return fmt.Errorf("%w: episode %d: %d observations, want %d", ErrBadPrediction, i, len(obs), n)
		}
		for k, o := range obs {
			if len(o.Frame) != spec.FrameLen() || len(o.Proprio) != spec.ProprioDim {
				return fmt.Errorf("%w: episode %d step %d: frame %d bytes, proprio %d values", ErrBadPrediction, i, k, len(o.Frame), len(o.Proprio))
			}
		}
	}
	return nil
}

// compareAll measures the jobs on all cores.
func compareAll(ctx context.Context, jobs []*pending) error {
	ch := make(chan *pending)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				s, err := compare(j.pred, j.e, j.t, j.spec)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				j.out = s
			}
		}()
	}
	var err error
loop:
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
			err = ctx.Err()
			break loop
		}
	}
	close(ch)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}
