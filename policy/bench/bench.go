// Package bench measures policy inference speed: latency per action chunk at
// batch 1 (median and 90th percentile over many calls) and throughput in
// chunks per second at batch sizes 1, 2, 4, ... The observations are real
// PushT camera frames (the reset states of the standard test seeds and the
// seeds after them), so policies whose cost depends on the scene (the
// scripted planner) are measured on the scenes they are evaluated on; every
// batch size cycles through the same 64 or more scenes.
//
// With a PyTorch peer (Config.Peer, foundation/torchpeer, torch_peer.py) the
// same network also runs in PyTorch CPU in the same run: its chunks are
// checked against Go's on the same inputs (Go's noise passed in), then both
// are timed in alternating rounds (PeerReport). The peer runs every flow
// policy of the zoo, each kind a peerNet: on the pixel encoder (backend
// flow with checkpoints/pusht-flow) it computes the whole chunk from the
// frames, as Go's Act; on the pose reader (the pose-* arms) the reader,
// analysis by synthesis in Go and not a network, stays in Go, the peer gets
// the features Go's head gets and both sides time the network given them
// (Go's whole Act, reading included, is reported beside); a foresight
// adapter (the *-foresight* arms) is run by both inside every Euler step.
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
	// policies, with either front end and any foresight adapter; see
	// PeerReport): agreement on the same inputs, then PeerRounds rounds (3)
	// alternating Go and the peer.
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
	actAt := func(b int) (BatchResult, error) {
		return throughput(func(off, b int) (time.Duration, error) {
			batch := make([]policy.Observation, b)
			for i := range batch {
				batch[i] = pool[(off+i)%len(pool)]
			}
			el, _, err := call(batch)
			return el, err
		}, len(pool), b, cfg.Duration)
	}
	for _, b := range cfg.Batches {
		r, err := actAt(b)
		if err != nil {
			return rep, err
		}
		rep.Batches = append(rep.Batches, r)
		if r.ChunksPerSec > rep.ChunksPerSecBest {
			rep.BestBatch, rep.ChunksPerSecBest = b, r.ChunksPerSec
		}
	}
	if peer != nil {
		if rep.Peer, err = comparePeer(ctx, peer, cfg, &rep, actAt); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// throughput times call at batch b for about dur (at least one call),
// the batches cycling through a pool of n observations: call(off, b)
// times one call on the pool's observations off, off+1, ... (mod n).
func throughput(call func(off, b int) (time.Duration, error), n, b int, dur time.Duration) (BatchResult, error) {
	var total time.Duration
	calls, off := 0, 0
	for calls == 0 || total < dur {
		el, err := call(off, b)
		if err != nil {
			return BatchResult{}, err
		}
		off = (off + b) % n
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
