package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"time"

	"dreamrank/foundation/torchpeer"
	"dreamrank/policy"
)

// PeerTorch is the only peer: the same policy in PyTorch CPU.
const PeerTorch = "torch"

// ActionTolerance bounds the max |difference| between the peer's and Go's
// actions for the same observations (table units; PushT's table is 512).
// Float32 reorderings through the trunk and 10 Euler steps move actions by
// about 1e-4; 1e-2 (a fiftieth of a frame pixel) still fails any real
// discrepancy (a wrong layer, keypoint grid, time embedding or guidance
// moves them by whole units).
const ActionTolerance = 1e-2

// peerAgree is how many of the pool's observations the agreement compares.
const peerAgree = 8

var (
	// ErrDisagree: the peer computed other chunks than Go.
	ErrDisagree = errors.New("bench: the peer disagrees with Go")
	// ErrNoPeer: the policy cannot be run by the peer.
	ErrNoPeer = errors.New("bench: no peer for this policy")
)

//go:embed torch_peer.py
var torchPeerScript []byte

// PeerReport is the PyTorch peer measured in the same run: chunks per
// second of the same unit on both sides (Unit: for pixel flow policies the
// whole chunk, frames to actions; for pose flow policies the network given
// the pose reader's features, since the reader is analysis by synthesis in
// Go, not a network) at batch 1 and at each side's best batch, medians over
// Rounds rounds in which Go and the peer alternate, and how far the peer's
// chunks are from Go's whole Act.
type PeerReport struct {
	Backend            string  `json:"backend"`
	TorchVersion       string  `json:"torch_version"`
	Threads            int     `json:"threads"`
	Allocator          string  `json:"allocator"`
	MKLDNN             bool    `json:"mkldnn"`
	Rounds             int     `json:"rounds"`
	Unit               string  `json:"unit"`
	ChunksPerSecBatch1 float64 `json:"chunks_per_sec_batch1"`
	BestBatch          int     `json:"best_batch"`
	ChunksPerSecBest   float64 `json:"chunks_per_sec_best"`
	// GoChunksPerSec* are Go's medians of the unit over the same rounds
	// (batch 1 and GoBestBatch); Ratio* Go's chunks per second over the
	// peer's (above 1: Go is faster).
	GoChunksPerSecBatch1 float64 `json:"go_chunks_per_sec_batch1"`
	GoBestBatch          int     `json:"go_best_batch"`
	GoChunksPerSecBest   float64 `json:"go_chunks_per_sec_best"`
	RatioBatch1          float64 `json:"ratio_batch1"`
	RatioBest            float64 `json:"ratio_best"`
	// GoBatches is Go's sweep of the unit that chose GoBestBatch, when the
	// unit is not the whole Act (else the report's Batches chose it).
	GoBatches []BatchResult `json:"go_batches,omitempty"`
	// GoAct* are Go's whole Act (the pose reading included: what a caller
	// pays) over the same rounds, at batch 1 and the report's best batch,
	// when the unit is not the whole Act.
	GoActChunksPerSecBatch1 float64 `json:"go_act_chunks_per_sec_batch1,omitempty"`
	GoActChunksPerSecBest   float64 `json:"go_act_chunks_per_sec_best,omitempty"`
	// Batches is the peer's sweep over the report's batch sizes that chose
	// BestBatch.
	Batches []BatchResult `json:"batches"`
	// MaxAbsDiff is the largest |difference| of the actions of
	// AgreeChunks chunks (table units); Tolerance bounds it.
	MaxAbsDiff  float64 `json:"max_abs_diff"`
	Tolerance   float64 `json:"tolerance"`
	AgreeChunks int     `json:"agree_chunks"`
}

type peerHello struct {
	TorchVersion string  `json:"torch_version"`
	Threads      int     `json:"threads"`
	Allocator    string  `json:"allocator"`
	MKLDNN       bool    `json:"mkldnn"`
	MaxAbsDiff   float64 `json:"max_abs_diff"`
}

// Peer is a running PyTorch peer of a policy.
type Peer struct {
	proc  *torchpeer.Process
	net   peerNet
	pool  int // observations in the pool
	hello peerHello
}

// StartPeer exports p's network and its inputs for pool, starts the
// PyTorch peer and checks that its chunks for the first observations
// agree with Go's Act (ErrDisagree otherwise; the peer is returned to
// close). ErrNoPeer: no peer runs p.
func StartPeer(ctx context.Context, p policy.Policy, steer *policy.Context, pool []policy.Observation, opts torchpeer.Options) (*Peer, error) {
	var st []policy.Context
	if steer != nil {
		st = make([]policy.Context, len(pool))
		for i := range st {
			st[i] = *steer
		}
	}
	net, err := newPeerNet(ctx, p, pool, st)
	if err != nil {
		return nil, err
	}
	req, err := net.request(ctx, min(peerAgree, len(pool)))
	if err != nil {
		return nil, err
	}
	pr := &Peer{net: net, pool: len(pool)}
	if pr.proc, err = torchpeer.Start(ctx, opts, torchPeerScript, req, &pr.hello); err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	if pr.hello.MaxAbsDiff > ActionTolerance {
		return pr, fmt.Errorf("%w: actions max |diff| %.3g (tolerance %.0e)", ErrDisagree, pr.hello.MaxAbsDiff, ActionTolerance)
	}
	return pr, nil
}

// Unit is what the peer and Go's side of the comparison time; wholeAct
// when it is Go's Act.
func (p *Peer) Unit() (desc string, wholeAct bool) { return p.net.unit() }

// GoTime times Go's side of the unit at batch b (cycling through the
// pool) for about cfg.Duration, after one warm-up call.
func (p *Peer) GoTime(ctx context.Context, b int, cfg Config) (BatchResult, error) {
	call := func(off, b int) (time.Duration, error) {
		idx := make([]int, b)
		for i := range idx {
			idx[i] = (off + i) % p.pool
		}
		t0 := time.Now()
		err := p.net.act(ctx, idx)
		return time.Since(t0), err
	}
	if _, err := call(0, b); err != nil {
		return BatchResult{}, err
	}
	return throughput(call, p.pool, b, cfg.Duration)
}

// MaxAbsDiff is the agreement the peer measured when it started.
func (p *Peer) MaxAbsDiff() float64 { return p.hello.MaxAbsDiff }

// Time runs the peer at batch b (cycling through the pool) for about
// cfg.Duration after three warm-up calls (first calls build oneDNN primitives).
func (p *Peer) Time(b int, cfg Config) (BatchResult, error) {
	var r struct {
		Calls   int     `json:"calls"`
		Seconds float64 `json:"seconds"`
		Chunks  int     `json:"chunks"`
		Faults  float64 `json:"minor_faults_per_call"`
		Threads int     `json:"threads"`
	}
	if err := p.proc.Call(map[string]any{"op": "time", "batch": b, "seconds": cfg.Duration.Seconds(), "min_calls": 1, "warmup": 3}, &r); err != nil {
		return BatchResult{}, fmt.Errorf("torch peer batch %d: %w", b, err)
	}
	sec := max(r.Seconds, 1e-9)
	return BatchResult{Batch: b, Calls: r.Calls, MsPerCall: 1000 * sec / float64(max(r.Calls, 1)), ChunksPerSec: float64(r.Chunks) / sec, MinorFaultsPerCall: r.Faults, Threads: r.Threads}, nil
}

// Close stops the peer.
func (p *Peer) Close() error { return p.proc.Close() }

// startPeer starts the peer cfg asks for (nil for none) on the Go side's
// cores unless told otherwise.
func startPeer(ctx context.Context, p policy.Policy, cfg Config, pool []policy.Observation) (*Peer, error) {
	switch cfg.Peer {
	case "":
		return nil, nil
	case PeerTorch:
	default:
		return nil, fmt.Errorf("bench: peer %q (want %s)", cfg.Peer, PeerTorch)
	}
	opts := cfg.PeerOptions
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	pr, err := StartPeer(ctx, p, cfg.Steer, pool, opts)
	if err != nil && pr != nil {
		pr.Close()
	}
	return pr, err
}

// comparePeer sweeps the peer over the report's batch sizes (its best
// batch), and Go's unit too when it is not the whole Act (actAt, whose
// sweep is the report's), then runs cfg.PeerRounds rounds alternating Go
// and the peer (which goes first alternates too), each at batch 1 and its
// best batch; medians.
func comparePeer(ctx context.Context, p *Peer, cfg Config, rep *Report, actAt func(b int) (BatchResult, error)) (*PeerReport, error) {
	unit, wholeAct := p.Unit()
	pr := &PeerReport{Backend: PeerTorch, TorchVersion: p.hello.TorchVersion, Threads: p.hello.Threads,
		Allocator: p.hello.Allocator, MKLDNN: p.hello.MKLDNN, Rounds: cfg.PeerRounds, Unit: unit,
		MaxAbsDiff: p.hello.MaxAbsDiff, Tolerance: ActionTolerance, AgreeChunks: peerAgree}
	peerAt := func(b int) (BatchResult, error) { return p.Time(b, cfg) }
	goAt, goBest := actAt, rep.BestBatch
	if !wholeAct {
		goAt = func(b int) (BatchResult, error) { return p.GoTime(ctx, b, cfg) }
		var best float64
		for _, br := range rep.Batches {
			r, err := goAt(br.Batch)
			if err != nil {
				return nil, err
			}
			pr.GoBatches = append(pr.GoBatches, r)
			if r.ChunksPerSec > best {
				goBest, best = r.Batch, r.ChunksPerSec
			}
		}
	}
	pr.GoBestBatch = goBest
	for _, br := range rep.Batches {
		r, err := peerAt(br.Batch)
		if err != nil {
			return nil, err
		}
		pr.Batches = append(pr.Batches, r)
		if r.ChunksPerSec > pr.ChunksPerSecBest {
			pr.BestBatch, pr.ChunksPerSecBest = r.Batch, r.ChunksPerSec
		}
	}
	var goB1, goBestCPS, actB1, actBest, pB1, pBest []float64
	goSide := func() error {
		if err := timeAt(goAt, goBest, &goB1, &goBestCPS); err != nil || wholeAct {
			return err
		}
		return timeAt(actAt, rep.BestBatch, &actB1, &actBest)
	}
	peerSide := func() error { return timeAt(peerAt, pr.BestBatch, &pB1, &pBest) }
	if err := torchpeer.Alternate(cfg.PeerRounds, goSide, peerSide); err != nil {
		return nil, err
	}
	pr.GoChunksPerSecBatch1, pr.GoChunksPerSecBest = torchpeer.Median(goB1), torchpeer.Median(goBestCPS)
	pr.ChunksPerSecBatch1, pr.ChunksPerSecBest = torchpeer.Median(pB1), torchpeer.Median(pBest)
	pr.RatioBatch1 = pr.GoChunksPerSecBatch1 / pr.ChunksPerSecBatch1
	pr.RatioBest = pr.GoChunksPerSecBest / pr.ChunksPerSecBest
	if !wholeAct {
		pr.GoActChunksPerSecBatch1, pr.GoActChunksPerSecBest = torchpeer.Median(actB1), torchpeer.Median(actBest)
	}
	return pr, nil
}

// timeAt times at batch 1 and batch best, adding the chunks per second
// to b1 and bb.
func timeAt(at func(int) (BatchResult, error), best int, b1, bb *[]float64) error {
	return torchpeer.AtOneAndBest(best, func(b int) (float64, error) {
		r, err := at(b)
		return r.ChunksPerSec, err
	}, b1, bb)
}
