package judge

import (
	"context"
	"fmt"
	"sort"
	"time"

	"dreamrank/foundation/episode"
)

// EvalOptions select what Evaluate measures.
type EvalOptions struct {
	// Source keeps only episodes of this source ("" all).
	Source string
	// Limit is the most episodes per source (0: all), oldest first.
	Limit int
	// Batch is how many episodes go to the judge per call (0: 8).
	Batch int
	// Truth turns an episode's ground-truth rows into its true per-step
	// coverage; default TruthFor the episode's scenario.
	Truth func(groundTruth [][]float32) ([]float64, error)
	// Threshold is the success coverage; required (PushT:
	// pusht.SuccessCoverage).
	Threshold float64
	// Progress, if set, is told episodes done out of the total.
	Progress func(done, total int)
}

// Evaluation is a judge measured on stored episodes with ground truth.
type Evaluation struct {
	All      Report            `json:"all"`
	BySource map[string]Report `json:"by_source"`
	// Simulated, when asked for, is the judge on freshly simulated
	// episodes that include the success frame (see EvaluateSimulated).
	Simulated *Report `json:"simulated,omitempty"`
	Seconds   float64 `json:"seconds"`
	// FramesPerSecond is the judge's throughput over the whole run.
	FramesPerSecond float64 `json:"frames_per_second"`
}

// Evaluate judges every stored episode that has ground truth (the
// simulator's state, which the judge never sees) and compares the verdicts
// with the truth, overall and per source. Episodes are loaded a batch at a
// time, so memory stays at one batch.
func Evaluate(ctx context.Context, j Judge, store *episode.Store, opts EvalOptions) (Evaluation, error) {
	if opts.Batch <= 0 {
		opts.Batch = 8
	}
	if opts.Threshold <= 0 {
		return Evaluation{}, fmt.Errorf("%w: no success threshold", ErrBadInput)
	}
	metas, err := store.List(ctx, episode.Filter{Source: opts.Source})
	if err != nil {
		return Evaluation{}, err
	}
	var ids []string
	truthOf := map[string]func([][]float32) ([]float64, error){}
	sources := map[string]string{}
	perSource := map[string]int{}
	for _, m := range metas {
		if m.GroundTruthDim == 0 || (opts.Limit > 0 && perSource[m.Source] >= opts.Limit) {
			continue
		}
		perSource[m.Source]++
		ids = append(ids, m.ID)
		sources[m.ID] = m.Source
		truthOf[m.ID] = opts.Truth
		if opts.Truth == nil {
			truthOf[m.ID] = TruthFor(m.Scenario)
		}
	}
	if len(ids) == 0 {
		return Evaluation{}, fmt.Errorf("%w: no episodes with ground truth in %s", episode.ErrNotFound, store.Root())
	}
	start := time.Now()
	var verdicts []Verdict
	var truths [][]float64
	var srcs []string
	for lo := 0; lo < len(ids); lo += opts.Batch {
		batch := ids[lo:min(lo+opts.Batch, len(ids))]
		var eps []Episode
		for _, id := range batch {
			e, err := store.Get(ctx, id)
			if err != nil {
				return Evaluation{}, err
			}
			tc, err := truthOf[id](e.GroundTruth)
			if err != nil {
				return Evaluation{}, fmt.Errorf("episode %s: %w", id, err)
			}
			eps = append(eps, FromEpisode(e))
			truths = append(truths, tc)
			srcs = append(srcs, sources[id])
		}
		vs, err := j.Judge(ctx, eps)
		if err != nil {
			return Evaluation{}, err
		}
		if len(vs) != len(eps) {
			return Evaluation{}, fmt.Errorf("judge: %d verdicts for %d episodes", len(vs), len(eps))
		}
		// Keep only what Compare needs: frames are the bulk of memory.
		verdicts = append(verdicts, vs...)
		if opts.Progress != nil {
			opts.Progress(lo+len(batch), len(ids))
		}
	}
	secs := time.Since(start).Seconds()
	ev := Evaluation{BySource: map[string]Report{}, Seconds: secs}
	if ev.All, err = Compare(verdicts, truths, opts.Threshold); err != nil {
		return Evaluation{}, err
	}
	ev.FramesPerSecond = float64(ev.All.Frames) / secs
	names := make([]string, 0, len(perSource))
	for s := range perSource {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		var vs []Verdict
		var ts [][]float64
		for i := range verdicts {
			if srcs[i] == s {
				vs, ts = append(vs, verdicts[i]), append(ts, truths[i])
			}
		}
		if ev.BySource[s], err = Compare(vs, ts, opts.Threshold); err != nil {
			return Evaluation{}, err
		}
	}
	return ev, nil
}
