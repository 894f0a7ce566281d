package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/torchpeer"
	"dreamrank/policy"
	"dreamrank/policy/flow"
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
// second (a whole chunk: pooling, conv trunk, spatial softmax, 10 flow
// steps of the head, guidance, actions) at batch 1 and at its best batch,
// medians over Rounds rounds in which Go and the peer alternate (Go's
// medians of the same rounds beside them), and how far its chunks are from
// Go's.
type PeerReport struct {
	Backend            string  `json:"backend"`
	TorchVersion       string  `json:"torch_version"`
	Threads            int     `json:"threads"`
	Allocator          string  `json:"allocator"`
	MKLDNN             bool    `json:"mkldnn"`
	Rounds             int     `json:"rounds"`
	ChunksPerSecBatch1 float64 `json:"chunks_per_sec_batch1"`
	BestBatch          int     `json:"best_batch"`
	ChunksPerSecBest   float64 `json:"chunks_per_sec_best"`
	// GoChunksPerSec* are Go's medians over the same rounds (batch 1 and
	// the report's best batch); Ratio* Go's chunks per second over the
	// peer's (above 1: Go is faster).
	GoChunksPerSecBatch1 float64 `json:"go_chunks_per_sec_batch1"`
	GoChunksPerSecBest   float64 `json:"go_chunks_per_sec_best"`
	RatioBatch1          float64 `json:"ratio_batch1"`
	RatioBest            float64 `json:"ratio_best"`
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

// Peer is a running PyTorch peer of a flow policy.
type Peer struct {
	proc  *torchpeer.Process
	hello peerHello
}

// StartPeer exports p's weights and Act's inputs for pool, starts the
// PyTorch peer and checks that its chunks for the first observations
// agree with Go's (ErrDisagree otherwise; the peer is returned to close).
func StartPeer(ctx context.Context, p policy.Policy, steer *policy.Context, pool []policy.Observation, opts torchpeer.Options) (*Peer, error) {
	fp, ok := p.(*flow.Policy)
	if !ok {
		return nil, fmt.Errorf("%w: the torch peer runs flow policies (backend %s), not %T", ErrNoPeer, flow.Name, p)
	}
	if fp.Adapter != nil {
		return nil, fmt.Errorf("%w: a flow policy with an adapter", ErrNoPeer)
	}
	var st []policy.Context
	if steer != nil {
		st = make([]policy.Context, len(pool))
		for i := range st {
			st[i] = *steer
		}
	}
	in, err := fp.ActInputs(pool, st)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPeer, err)
	}
	agree := min(peerAgree, len(pool))
	chunks, err := fp.Act(ctx, pool[:agree], st[:min(agree, len(st))])
	if err != nil {
		return nil, err
	}
	c := fp.Config()
	n, h, w := len(pool), c.FrameH, c.FrameW
	var frames []uint8
	var raw, goActs []float32
	for _, o := range pool {
		frames = append(frames, o.Image...)
		raw = append(raw, o.Proprio...)
	}
	for _, ch := range chunks {
		for _, a := range ch.Actions {
			goActs = append(goActs, a...)
		}
	}
	cx := c.CtxDim()
	poolMsg := map[string]any{
		"frames":      ndarray.NewUint8(frames, n, h, w, 3),
		"proprio":     ndarray.NewFloat32(in.Proprio, n, c.ProprioDim),
		"raw_proprio": ndarray.NewFloat32(raw, n, c.ProprioDim),
		"noise":       ndarray.NewFloat32(in.Noise, n, c.ChunkDim()),
		"ctx":         ndarray.NewFloat32(in.Ctx[:n*cx], n, cx),
		"guided":      in.Guided,
		"guidance":    in.Guidance,
		"go_actions":  ndarray.NewFloat32(goActs, agree, c.Horizon, c.ActionDim),
	}
	if in.Guided {
		poolMsg["ctx_uncond"] = ndarray.NewFloat32(in.Ctx[n*cx:], n, cx)
	}
	weights := map[string]any{}
	for _, t := range fp.Params().Tensors() {
		weights[t.Name] = ndarray.NewFloat32(t.Data, t.Shape...)
	}
	var cfg map[string]any
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	req := map[string]any{"weights": weights, "config": cfg, "pool": poolMsg, "agree": agree}
	pr := &Peer{}
	if pr.proc, err = torchpeer.Start(ctx, opts, torchPeerScript, req, &pr.hello); err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	if pr.hello.MaxAbsDiff > ActionTolerance {
		return pr, fmt.Errorf("%w: actions max |diff| %.3g (tolerance %.0e)", ErrDisagree, pr.hello.MaxAbsDiff, ActionTolerance)
	}
	return pr, nil
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
// batch), then runs cfg.PeerRounds rounds alternating Go (goAt) and the
// peer (which goes first alternates too), each at batch 1 and its best
// batch; medians.
func comparePeer(p *Peer, cfg Config, rep *Report, goAt func(b int) (BatchResult, error)) (*PeerReport, error) {
	pr := &PeerReport{Backend: PeerTorch, TorchVersion: p.hello.TorchVersion, Threads: p.hello.Threads,
		Allocator: p.hello.Allocator, MKLDNN: p.hello.MKLDNN, Rounds: cfg.PeerRounds,
		MaxAbsDiff: p.hello.MaxAbsDiff, Tolerance: ActionTolerance, AgreeChunks: peerAgree}
	for _, br := range rep.Batches {
		r, err := p.Time(br.Batch, cfg)
		if err != nil {
			return nil, err
		}
		pr.Batches = append(pr.Batches, r)
		if r.ChunksPerSec > pr.ChunksPerSecBest {
			pr.BestBatch, pr.ChunksPerSecBest = r.Batch, r.ChunksPerSec
		}
	}
	var goB1, goBest, pB1, pBest []float64
	side := func(at func(int) (BatchResult, error), best int, b1, bb *[]float64) error {
		for _, b := range []int{1, best} {
			r, err := at(b)
			if err != nil {
				return err
			}
			if b == 1 {
				*b1 = append(*b1, r.ChunksPerSec)
			}
			if b == best {
				*bb = append(*bb, r.ChunksPerSec)
			}
		}
		return nil
	}
	peerAt := func(b int) (BatchResult, error) { return p.Time(b, cfg) }
	for r := range cfg.PeerRounds {
		goFirst := r%2 == 0
		for i := range 2 {
			var err error
			if (i == 0) == goFirst {
				err = side(goAt, rep.BestBatch, &goB1, &goBest)
			} else {
				err = side(peerAt, pr.BestBatch, &pB1, &pBest)
			}
			if err != nil {
				return nil, err
			}
		}
	}
	pr.GoChunksPerSecBatch1, pr.GoChunksPerSecBest = torchpeer.Median(goB1), torchpeer.Median(goBest)
	pr.ChunksPerSecBatch1, pr.ChunksPerSecBest = torchpeer.Median(pB1), torchpeer.Median(pBest)
	pr.RatioBatch1 = pr.GoChunksPerSecBatch1 / pr.ChunksPerSecBatch1
	pr.RatioBest = pr.GoChunksPerSecBest / pr.ChunksPerSecBest
	return pr, nil
}
