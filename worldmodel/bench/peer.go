package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/pusht"
	"dreamrank/foundation/torchpeer"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
)

// PeerTorch is the only peer: the same network in PyTorch CPU.
const PeerTorch = "torch"

// NetTolerance bounds the network output's max |difference| between the
// peer and Go's reference on the same inputs (0..1 frame scale). Float32
// reorderings of the convolutions' sums differ by about 1e-6; 1e-4 (a
// fortieth of a grey level) still fails any real discrepancy (a wrong tap,
// padding, channel order or activation moves outputs by 1e-2 or more),
// and keeps rounding to bytes from diverging beyond the odd pixel.
const NetTolerance = 1e-4

// FramesTolerance bounds the fraction of bytes of a chunk of full steps
// that may differ: a network difference of 1e-6 flips a pixel's rounding
// only when it sits on a half grey level, and the block snap may then move
// it a few levels; a wrong step (planes, gate, head, rounding, snap)
// changes far more.
const FramesTolerance = 1e-3

// ErrDisagree: the peer computed something else than Go.
var ErrDisagree = errors.New("bench: the peer disagrees with Go")

//go:embed torch_peer.py
var torchPeerScript []byte

// peerEpisodes is the size of the agreement case (and the pool the peer's
// timed batches cycle through).
const peerEpisodes = 4

// PeerReport is the PyTorch peer measured in the same run: frames per
// second of the full step (proprio head, planes, gate, network, rounding,
// snap: what Go's Step does) and of the network alone, medians over Rounds
// rounds in which Go and the peer alternate (Go's medians of the same
// rounds beside them), and how far its outputs are from Go's.
type PeerReport struct {
	Backend      string  `json:"backend"`
	TorchVersion string  `json:"torch_version"`
	Threads      int     `json:"threads"`
	Allocator    string  `json:"allocator"`
	MKLDNN       bool    `json:"mkldnn"`
	Rounds       int     `json:"rounds"`
	FPSBatch1    float64 `json:"fps_batch1"`
	BestBatch    int     `json:"best_batch"`
	FPSBest      float64 `json:"fps_best"`
	NetFPSBatch1 float64 `json:"net_fps_batch1"`
	NetBestBatch int     `json:"net_best_batch"`
	NetFPSBest   float64 `json:"net_fps_best"`
	// GoFPSBatch1 and GoFPSBest (at the report's best batch) are Go's
	// medians over the same rounds; Ratio* are Go's frames per second over
	// the peer's full step (above 1: Go is faster).
	GoFPSBatch1 float64 `json:"go_fps_batch1"`
	GoFPSBest   float64 `json:"go_fps_best"`
	RatioBatch1 float64 `json:"ratio_batch1"`
	RatioBest   float64 `json:"ratio_best"`
	// Batches is the peer's full-step sweep over the report's batch sizes
	// that chose BestBatch (the network's best is chosen the same way).
	Batches    []BatchResult `json:"batches"`
	NetBatches []BatchResult `json:"net_batches"`
	Agreement
}

// Agreement is how far the peer's outputs are from Go's on the same inputs.
type Agreement struct {
	// MaxAbsDiff: the network alone on Go's step inputs against Go's
	// reference (the gorgonia graph), 0..1 frame scale; Tolerance bounds it.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	Tolerance  float64 `json:"tolerance"`
	// InputsMaxAbsDiff: the peer's step inputs (frame, agent planes, gate)
	// against Go's.
	InputsMaxAbsDiff float64 `json:"inputs_max_abs_diff"`
	// Frames*: a chunk of full steps against Go's Step (bytes): the largest
	// difference in grey levels and the fraction of bytes that differ
	// (FramesTolerance bounds it); proprio in table units.
	FramesMaxAbsDiff   int     `json:"frames_max_abs_diff"`
	FramesDiffFraction float64 `json:"frames_diff_fraction"`
	ProprioMaxAbsDiff  float64 `json:"proprio_max_abs_diff"`
}

type peerHello struct {
	TorchVersion string `json:"torch_version"`
	Threads      int    `json:"threads"`
	Allocator    string `json:"allocator"`
	MKLDNN       bool   `json:"mkldnn"`
	Agreement
}

// Peer is a running PyTorch peer of a built-in model.
type Peer struct {
	proc  *torchpeer.Process
	hello peerHello
}

// StartPeer exports m's weights, starts the PyTorch peer on them and
// checks that it agrees with m on a chunk of steps from rendered PushT
// scenes (ErrDisagree otherwise, with the peer left running for a look).
func StartPeer(ctx context.Context, m worldmodel.Model, chunk int, opts torchpeer.Options) (*Peer, error) {
	lm, ok := m.(*latent.Model)
	if !ok {
		return nil, fmt.Errorf("%w: the torch peer runs the built-in model (backend %s), not %T", ErrBadConfig, latent.Name, m)
	}
	req, err := peerRequest(ctx, lm, chunk)
	if err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	p := &Peer{}
	if p.proc, err = torchpeer.Start(ctx, opts, torchPeerScript, req, &p.hello); err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	p.hello.Tolerance = NetTolerance
	if a := p.hello.Agreement; a.MaxAbsDiff > NetTolerance || a.FramesDiffFraction > FramesTolerance {
		return p, fmt.Errorf("%w: network max |diff| %.3g (tolerance %.0e), %.3g of the frames' bytes differ (tolerance %.0e)",
			ErrDisagree, a.MaxAbsDiff, NetTolerance, a.FramesDiffFraction, FramesTolerance)
	}
	return p, nil
}

// Agreement is what the peer measured against Go when it started.
func (p *Peer) Agreement() Agreement { return p.hello.Agreement }

// Time runs the peer at batch b for about seconds: kind "step" (chunk full
// steps per call) or "net" (one network pass per call).
func (p *Peer) Time(kind string, b int, cfg Config) (BatchResult, error) {
	var r struct {
		Calls   int     `json:"calls"`
		Seconds float64 `json:"seconds"`
		Frames  int     `json:"frames"`
		Faults  float64 `json:"minor_faults_per_call"`
		Threads int     `json:"threads"`
	}
	err := p.proc.Call(map[string]any{"op": "time", "kind": kind, "batch": b, "chunk": cfg.Chunk,
		"seconds": cfg.Duration.Seconds(), "min_calls": cfg.MinCalls, "warmup": cfg.Warmup, "max_steps": MaxRolloutSteps}, &r)
	if err != nil {
		return BatchResult{}, fmt.Errorf("torch peer %s batch %d: %w", kind, b, err)
	}
	sec := max(r.Seconds, 1e-9)
	return BatchResult{Batch: b, Calls: r.Calls, Frames: r.Frames, Seconds: sec,
		FPS: float64(r.Frames) / sec, MsPerCall: 1000 * sec / float64(max(r.Calls, 1)), GFLOPS: -1, MinorFaultsPerCall: r.Faults, Threads: r.Threads}, nil
}

// Close stops the peer.
func (p *Peer) Close() error { return p.proc.Close() }

// peerRequest is the peer's request: weights by name, config, proprio
// head, and the agreement case computed by Go.
func peerRequest(ctx context.Context, m *latent.Model, chunk int) (map[string]any, error) {
	weights := map[string]any{}
	var names []string
	for _, t := range m.Weights() {
		weights[t.Name] = ndarray.NewFloat32(t.Data, t.Shape...)
		names = append(names, t.Name)
	}
	var cfg map[string]any
	b, err := json.Marshal(m.Config())
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	c, err := peerCase(ctx, m, chunk)
	if err != nil {
		return nil, err
	}
	return map[string]any{"weights": weights, "names": names, "config": cfg, "proprio_head": m.ProprioHead(), "case": c}, nil
}

// peerCase steps peerEpisodes rendered PushT scenes (test seeds' resets)
// through Go's Step for one chunk of random actions, and runs the first
// step's network inputs through the reference graph.
func peerCase(ctx context.Context, m *latent.Model, chunk int) (map[string]any, error) {
	spec := m.Spec()
	if spec.FrameH != pusht.ObsSize || spec.FrameW != pusht.ObsSize {
		return nil, fmt.Errorf("%w: the agreement case renders %dx%d PushT frames, the model takes %dx%d", ErrBadConfig, pusht.ObsSize, pusht.ObsSize, spec.FrameH, spec.FrameW)
	}
	h, w := spec.FrameH, spec.FrameW
	n := h * w
	env := pusht.New(pusht.Config{})
	rng := rand.New(rand.NewPCG(7, 0x70656572))
	contexts := make([][]worldmodel.Observation, peerEpisodes)
	var hist []float32
	var frameBytes []uint8
	for i := range contexts {
		env.ResetLegacy(100000 + int64(i))
		s := env.State()
		img, err := pusht.RenderState(s.Agent, s.Block, pusht.ObsSize)
		if err != nil {
			return nil, err
		}
		p := []float32{float32(s.Agent.X), float32(s.Agent.Y)}
		contexts[i] = []worldmodel.Observation{{Frame: img, Proprio: p}}
		frameBytes = append(frameBytes, img...)
		for range 3 { // one context observation: the agent stood still
			hist = append(hist, p...)
		}
	}
	actions := randomActions(spec, peerEpisodes, chunk, rng)
	ro, err := m.Start(ctx, contexts)
	if err != nil {
		return nil, err
	}
	defer ro.Close()
	outs, err := ro.Step(ctx, actions)
	if err != nil {
		return nil, err
	}
	var acts, goProp, rgbs, planes, gates, preds []float32
	var goFrames []uint8
	for i, o := range outs {
		for k := range o {
			goFrames = append(goFrames, o[k].Frame...)
			goProp = append(goProp, o[k].Proprio...)
			acts = append(acts, actions[i][k]...)
		}
		p := [2]float32{hist[6*i], hist[6*i+1]}
		rgb, pl, g, _, err := m.StepInputs(contexts[i][0].Frame, [3][2]float32{p, p, p}, actions[i][0])
		if err != nil {
			return nil, err
		}
		pred, err := m.PredictNet(rgb, pl, g)
		if err != nil {
			return nil, err
		}
		rgbs, planes, gates, preds = append(rgbs, rgb...), append(planes, pl...), append(gates, g...), append(preds, pred...)
	}
	if len(gates) != peerEpisodes*n {
		return nil, fmt.Errorf("bench: gate of %d values", len(gates))
	}
	e := peerEpisodes
	return map[string]any{
		"frames":     ndarray.NewUint8(frameBytes, e, h, w, 3),
		"hist":       ndarray.NewFloat32(hist, e, 3, 2),
		"actions":    ndarray.NewFloat32(acts, e, chunk, spec.ActionDim),
		"go_frames":  ndarray.NewUint8(goFrames, e, chunk, h, w, 3),
		"go_proprio": ndarray.NewFloat32(goProp, e, chunk, 2),
		"net_rgb":    ndarray.NewFloat32(rgbs, e, 3, h, w),
		"net_planes": ndarray.NewFloat32(planes, e, 3, h, w),
		"net_gate":   ndarray.NewFloat32(gates, e, h, w),
		"net_pred":   ndarray.NewFloat32(preds, e, 3, h, w),
	}, nil
}

// startPeer starts the peer cfg asks for (nil for none), on the Go side's
// cores unless told otherwise.
func startPeer(ctx context.Context, m worldmodel.Model, cfg Config) (*Peer, error) {
	switch cfg.Peer {
	case "":
		return nil, nil
	case PeerTorch:
	default:
		return nil, fmt.Errorf("%w: peer %q (want %s)", ErrBadConfig, cfg.Peer, PeerTorch)
	}
	opts := cfg.PeerOptions
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	p, err := StartPeer(ctx, m, cfg.Chunk, opts)
	if err != nil && p != nil {
		p.Close()
	}
	return p, err
}

// comparePeer measures the peer beside Go: a sweep of the peer over the
// report's batch sizes (its best batches), then cfg.PeerRounds rounds
// alternating Go and the peer (which goes first alternates too), each side
// at batch 1 and its best batch; medians.
func comparePeer(ctx context.Context, p *Peer, m worldmodel.Model, cfg Config, rep *Report, rng *rand.Rand) (*PeerReport, error) {
	pr := &PeerReport{Backend: PeerTorch, TorchVersion: p.hello.TorchVersion, Threads: p.hello.Threads,
		Allocator: p.hello.Allocator, MKLDNN: p.hello.MKLDNN, Rounds: cfg.PeerRounds, Agreement: p.hello.Agreement}
	for _, br := range rep.Batches {
		for _, kind := range []string{"step", "net"} {
			r, err := p.Time(kind, br.Batch, cfg)
			if err != nil {
				return nil, err
			}
			if kind == "step" {
				pr.Batches = append(pr.Batches, r)
			} else {
				pr.NetBatches = append(pr.NetBatches, r)
			}
		}
	}
	_, pr.BestBatch, _, _ = summarize(pr.Batches)
	_, pr.NetBestBatch, _, _ = summarize(pr.NetBatches)
	var goB1, goBest, pB1, pBest, nB1, nBest []float64
	goSide := func() error {
		for _, b := range []int{1, rep.BestBatch} {
			r, err := measure(ctx, m, m.Spec(), b, cfg, rng)
			if err != nil {
				return fmt.Errorf("go batch %d: %w", b, err)
			}
			if b == 1 {
				goB1 = append(goB1, r.FPS)
			}
			if b == rep.BestBatch {
				goBest = append(goBest, r.FPS)
			}
		}
		return nil
	}
	// timePeer appends the peer's frames/s at batch 1 and at best.
	timePeer := func(kind string, best int, b1, bb *[]float64) error {
		for _, b := range []int{1, best} {
			r, err := p.Time(kind, b, cfg)
			if err != nil {
				return err
			}
			if b == 1 {
				*b1 = append(*b1, r.FPS)
			}
			if b == best {
				*bb = append(*bb, r.FPS)
			}
		}
		return nil
	}
	peerSide := func() error {
		if err := timePeer("step", pr.BestBatch, &pB1, &pBest); err != nil {
			return err
		}
		return timePeer("net", pr.NetBestBatch, &nB1, &nBest)
	}
	for r := range cfg.PeerRounds {
		sides := []func() error{goSide, peerSide}
		if r%2 == 1 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, side := range sides {
			if err := side(); err != nil {
				return nil, err
			}
		}
	}
	pr.GoFPSBatch1, pr.GoFPSBest = torchpeer.Median(goB1), torchpeer.Median(goBest)
	pr.FPSBatch1, pr.FPSBest = torchpeer.Median(pB1), torchpeer.Median(pBest)
	pr.NetFPSBatch1, pr.NetFPSBest = torchpeer.Median(nB1), torchpeer.Median(nBest)
	pr.RatioBatch1, pr.RatioBest = pr.GoFPSBatch1/pr.FPSBatch1, pr.GoFPSBest/pr.FPSBest
	return pr, nil
}
