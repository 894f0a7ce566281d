// Package bench measures policy inference speed: latency per action chunk at
// batch 1 (median and 90th percentile over many calls) and throughput in
// chunks per second at batch sizes 1, 2, 4, ... The observations are real
// PushT camera frames (the reset states of the standard test seeds and the
// seeds after them), so policies whose cost depends on the scene (the
// scripted planner) are measured on the scenes they are evaluated on; every
// batch size cycles through the same 64 or more scenes.
package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/torchpeer"
	"dreamrank/policy"
	"dreamrank/policy/expert"
)

// Config says what to measure; zero values take the defaults.
type Config struct {
	// Batches are the batch sizes for throughput; default 1, 2, 4, ..., 64.
	Batches []int
	// LatencyCalls is the number of timed batch-1 calls; default 30.
	LatencyCalls int
	// Duration is the timed calling per batch size (at least one call);
	// default 2s.
	Duration time.Duration
	// Steer, if set, is given with every observation.
	Steer *policy.Context
	// Peer, when PeerTorch, also runs the same policy in PyTorch (flow
	// policies with the convolutional front end; see PeerReport):
	// agreement on the same inputs, then PeerRounds rounds (3) alternating
	// Go and the peer.
	Peer        string
	PeerRounds  int
	PeerOptions torchpeer.Options
}

// BatchResult is the throughput at one batch size.
type BatchResult struct {
	Batch        int     `json:"batch"`
	Calls        int     `json:"calls"`
	MsPerCall    float64 `json:"ms_per_call"`
	ChunksPerSec float64 `json:"chunks_per_sec"`
	// MinorFaultsPerCall: page faults per timed call (the PyTorch peer's,
	// which depend on its allocator).
	MinorFaultsPerCall float64 `json:"minor_faults_per_call,omitempty"`
	// Threads: the intra-op threads the PyTorch peer ran this batch on (the
	// faster of 1 and the Go side's core count; 0 on the Go side).
	Threads int `json:"threads,omitempty"`
}

// Report is the benchmark's result.
type Report struct {
	ChunkLen         int           `json:"chunk_len"`
	LatencyCalls     int           `json:"latency_calls"`
	LatencyMsMedian  float64       `json:"latency_ms_median"`
	LatencyMsP90     float64       `json:"latency_ms_p90"`
	Batches          []BatchResult `json:"batches"`
	BestBatch        int           `json:"best_batch"`
	ChunksPerSecBest float64       `json:"chunks_per_sec_best"`
	// Peer is the same policy in PyTorch, measured in the same run
	// (Config.Peer).
	Peer *PeerReport `json:"peer,omitempty"`
}

// Run benchmarks p.
func Run(ctx context.Context, p policy.Policy, cfg Config) (Report, error) {
	if cfg.Batches == nil {
		cfg.Batches = []int{1, 2, 4, 8, 16, 32, 64}
	}
	if cfg.LatencyCalls <= 0 {
		cfg.LatencyCalls = 30
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 2 * time.Second
	}
	if slices.ContainsFunc(cfg.Batches, func(b int) bool { return b < 1 }) {
		return Report{}, errors.New("bench: batch sizes must be positive")
	}
	// Every batch size cycles through the same scenes, so that a cheap scene
	// does not flatter small batches.
	pool, err := Observations(max(slices.Max(cfg.Batches), cfg.LatencyCalls, 64))
	if err != nil {
		return Report{}, err
	}
	call := func(obs []policy.Observation) (time.Duration, int, error) {
		var steer []policy.Context
		if cfg.Steer != nil {
			steer = make([]policy.Context, len(obs))
			for i := range steer {
				steer[i] = *cfg.Steer
			}
		}
		t0 := time.Now()
		chunks, err := p.Act(ctx, obs, steer)
		el := time.Since(t0)
		if err != nil {
			return el, 0, fmt.Errorf("bench: act on %d observations: %w", len(obs), err)
		}
		if len(chunks) != len(obs) {
			return el, 0, fmt.Errorf("bench: %d chunks for %d observations", len(chunks), len(obs))
		}
		return el, len(chunks[0].Actions), nil
	}
	if cfg.PeerRounds <= 0 {
		cfg.PeerRounds = 3
	}
	// The peer starts (and checks agreement) first, so a missing torch or a
	// disagreement fails before the timing; it idles while Go is timed.
	peer, err := startPeer(ctx, p, cfg, pool)
	if err != nil {
		return Report{}, err
	}
	if peer != nil {
		defer peer.Close()
	}
	var rep Report
	// One warm-up call: first-call costs (allocating pools, connecting) are
	// not inference.
	if _, rep.ChunkLen, err = call(pool[:1]); err != nil {
		return rep, err
	}
	lat := make([]float64, cfg.LatencyCalls)
	for i := range lat {
		el, _, err := call(pool[i : i+1])
		if err != nil {
			return rep, err
		}
		lat[i] = float64(el) / float64(time.Millisecond)
	}
	slices.Sort(lat)
	rep.LatencyCalls = len(lat)
	rep.LatencyMsMedian = quantile(lat, 0.5)
	rep.LatencyMsP90 = quantile(lat, 0.9)
	for _, b := range cfg.Batches {
		r, err := throughput(call, pool, b, cfg.Duration)
		if err != nil {
			return rep, err
		}
		rep.Batches = append(rep.Batches, r)
		if r.ChunksPerSec > rep.ChunksPerSecBest {
			rep.BestBatch, rep.ChunksPerSecBest = b, r.ChunksPerSec
		}
	}
	if peer != nil {
		if rep.Peer, err = comparePeer(peer, cfg, &rep, func(b int) (BatchResult, error) { return throughput(call, pool, b, cfg.Duration) }); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// throughput times calls at batch b for about dur (at least one call), the
// batches cycling through pool.
func throughput(call func([]policy.Observation) (time.Duration, int, error), pool []policy.Observation, b int, dur time.Duration) (BatchResult, error) {
	var total time.Duration
	calls, off := 0, 0
	for calls == 0 || total < dur {
		batch := make([]policy.Observation, b)
		for i := range batch {
			batch[i] = pool[(off+i)%len(pool)]
		}
		off = (off + b) % len(pool)
		el, _, err := call(batch)
		if err != nil {
			return BatchResult{}, err
		}
		total += el
		calls++
	}
	return BatchResult{Batch: b, Calls: calls,
		MsPerCall:    float64(total) / float64(calls) / float64(time.Millisecond),
		ChunksPerSec: float64(b*calls) / total.Seconds()}, nil
}

// quantile of sorted xs by linear interpolation.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	pos := q * float64(len(xs)-1)
	i := int(pos)
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (pos-float64(i))*(xs[i+1]-xs[i])
}

// Observations renders the reset states of n seeds from the standard test
// seeds on, as the robot's camera and proprioception report them.
func Observations(n int) ([]policy.Observation, error) {
	env := pusht.New(pusht.Config{})
	first := expert.TestSeeds()[0]
	out := make([]policy.Observation, n)
	for i := range out {
		env.ResetLegacy(first + int64(i))
		s := env.State()
		img, err := pusht.RenderState(s.Agent, s.Block, pusht.ObsSize)
		if err != nil {
			return nil, err
		}
		out[i] = policy.Observation{Image: img, Proprio: []float32{float32(s.Agent.X), float32(s.Agent.Y)}}
	}
	return out, nil
}
