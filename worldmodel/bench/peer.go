package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"

	"dreamrank/foundation/torchpeer"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
	"dreamrank/worldmodel/slots"
)

// PeerTorch is the only peer: the same model in PyTorch CPU.
const PeerTorch = "torch"

// A peerKind is the PyTorch peer of one world-model backend.
type peerKind interface {
	// script is the peer's Python program (foundation/torchpeer's
	// peerlib.serve: a hello with the agreement, then "time" commands).
	script() []byte
	// setup exports m and the agreement case computed by Go's side.
	setup(ctx context.Context, m worldmodel.Model, chunk int) (peerSetup, error)
	// check sets the agreement's tolerances and returns ErrDisagree when
	// the peer is outside them.
	check(a *Agreement) error
}

// peerKinds are the peers by world-model backend (the name a model's
// Describe gives as "backend").
var peerKinds = map[string]peerKind{
	latent.Name: latentPeer{},
	slots.Name:  slotsPeer{},
}

// peerFor is m's peer kind.
func peerFor(m worldmodel.Model) (peerKind, error) {
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range peerKinds {
			if !yield(n) {
				return
			}
		}
	})
	d, ok := m.(worldmodel.Describer)
	if !ok {
		return nil, fmt.Errorf("%w: the torch peer runs backends %s; %T does not say its backend", ErrBadConfig, strings.Join(names, ", "), m)
	}
	b := d.Describe()["backend"]
	k, ok := peerKinds[b]
	if !ok {
		return nil, fmt.Errorf("%w: the torch peer runs backends %s, not %q", ErrBadConfig, strings.Join(names, ", "), b)
	}
	return k, nil
}

// peerSetup is what Go's side gives a peer.
type peerSetup struct {
	req map[string]any
	// work, when not nil, holds the episodes both sides are timed on in
	// the alternating rounds (nil: Run's synthetic ones on Go's side).
	work *workload
	// steps and moved are the agreement case's Agreement.Steps and
	// MovedSteps, which Go's side knows.
	steps, moved int
}

// workload is a set of episodes to time: contexts and one chunk of
// actions each, cycled to the batch size.
type workload struct {
	contexts [][]worldmodel.Observation
	actions  [][][]float32
}

// batch is the workload's episodes cycled to b.
func (w *workload) batch(b int) ([][]worldmodel.Observation, [][][]float32) {
	c, a := make([][]worldmodel.Observation, b), make([][][]float32, b)
	for i := range b {
		c[i], a[i] = w.contexts[i%len(w.contexts)], w.actions[i%len(w.actions)]
	}
	return c, a
}

// ErrDisagree: the peer computed something else than Go.
var ErrDisagree = errors.New("bench: the peer disagrees with Go")

// peerEpisodes is the size of the agreement case (and the pool the peer's
// timed batches cycle through).
const peerEpisodes = 4

// PeerReport is the PyTorch peer measured in the same run: frames per
// second of the full step (what Go's Step does: for the pixel model the
// proprio head, planes, gate, network, rounding and snap; for the slots
// model the proprio head, contact tests, the passive objects' networks,
// the room and the renderer) and of the network alone (the slots model's:
// a passive object's MLP, frames counting its input rows), medians over
// Rounds rounds in which Go and the peer alternate (Go's medians of the
// same rounds beside them), and how far its outputs are from Go's.
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
	// GoFPSBatch1 and GoFPSBest (at GoBestBatch) are Go's medians over
	// the same rounds; Ratio* are Go's frames per second over the peer's
	// full step (above 1: Go is faster). GoBestBatch is the report's best
	// batch, or, when the peer brings its own episodes (the slots model),
	// Go's best on them in GoBatches, a sweep over the report's sizes.
	GoFPSBatch1 float64       `json:"go_fps_batch1"`
	GoBestBatch int           `json:"go_best_batch"`
	GoFPSBest   float64       `json:"go_fps_best"`
	GoBatches   []BatchResult `json:"go_batches,omitempty"`
	RatioBatch1 float64       `json:"ratio_batch1"`
	RatioBest   float64       `json:"ratio_best"`
	// Batches is the peer's full-step sweep over the report's batch sizes
	// that chose BestBatch (the network's best is chosen the same way).
	Batches    []BatchResult `json:"batches"`
	NetBatches []BatchResult `json:"net_batches"`
	Agreement
}

// Agreement is how far the peer's outputs are from Go's on the same inputs.
type Agreement struct {
	// MaxAbsDiff is the network's outputs against Go's, Tolerance its
	// bound: the pixel model's network alone on Go's step inputs against
	// Go's reference (the gorgonia graph), 0..1 frame scale; the slots
	// model's dynamics, every object's pose after each step (pixels and
	// radians).
	MaxAbsDiff float64 `json:"max_abs_diff"`
	Tolerance  float64 `json:"tolerance"`
	// InputsMaxAbsDiff: the pixel model's step inputs (frame, agent planes,
	// gate) against Go's; -1 for the slots model, whose peer steps from
	// Go's own states.
	InputsMaxAbsDiff float64 `json:"inputs_max_abs_diff"`
	// Frames*: full steps against Go's Step (bytes): the largest
	// difference in grey levels and the fraction of bytes that differ
	// (FramesTolerance bounds it); proprio in table units.
	FramesMaxAbsDiff   int     `json:"frames_max_abs_diff"`
	FramesDiffFraction float64 `json:"frames_diff_fraction"`
	FramesTolerance    float64 `json:"frames_tolerance"`
	ProprioMaxAbsDiff  float64 `json:"proprio_max_abs_diff"`
	// Steps and MovedSteps (slots model): episode steps compared, and those
	// in which Go moved a passive object (its network ran and mattered).
	Steps      int `json:"steps,omitempty"`
	MovedSteps int `json:"moved_steps,omitempty"`
}

type peerHello struct {
	TorchVersion string `json:"torch_version"`
	Threads      int    `json:"threads"`
	Allocator    string `json:"allocator"`
	MKLDNN       bool   `json:"mkldnn"`
	Agreement
}

// Peer is a running PyTorch peer of a world model.
type Peer struct {
	proc  *torchpeer.Process
	hello peerHello
	work  *workload
}

// StartPeer exports m (a backend in peerKinds), starts its PyTorch peer
// and checks that it agrees with m on steps from rendered PushT scenes
// (ErrDisagree otherwise, with the peer left running for a look).
func StartPeer(ctx context.Context, m worldmodel.Model, chunk int, opts torchpeer.Options) (*Peer, error) {
	kind, err := peerFor(m)
	if err != nil {
		return nil, err
	}
	s, err := kind.setup(ctx, m, chunk)
	if err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	p := &Peer{work: s.work}
	if p.proc, err = torchpeer.Start(ctx, opts, kind.script(), s.req, &p.hello); err != nil {
		return nil, fmt.Errorf("torch peer: %w", err)
	}
	p.hello.Steps, p.hello.MovedSteps = s.steps, s.moved
	if err := kind.check(&p.hello.Agreement); err != nil {
		return p, err
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
	pr.GoBestBatch = rep.BestBatch
	if p.work != nil {
		// Go's best batch on the peer's episodes, not on Run's synthetic ones.
		for _, br := range rep.Batches {
			r, err := measure(ctx, m, m.Spec(), br.Batch, cfg, rng, p.work)
			if err != nil {
				return nil, fmt.Errorf("go batch %d: %w", br.Batch, err)
			}
			pr.GoBatches = append(pr.GoBatches, r)
		}
		_, pr.GoBestBatch, _, _ = summarize(pr.GoBatches)
	}
	var goB1, goBest, pB1, pBest, nB1, nBest []float64
	goSide := func() error {
		return torchpeer.AtOneAndBest(pr.GoBestBatch, func(b int) (float64, error) {
			r, err := measure(ctx, m, m.Spec(), b, cfg, rng, p.work)
			if err != nil {
				return 0, fmt.Errorf("go batch %d: %w", b, err)
			}
			return r.FPS, nil
		}, &goB1, &goBest)
	}
	// peerAt is the peer's frames/s of kind at a batch.
	peerAt := func(kind string) func(int) (float64, error) {
		return func(b int) (float64, error) {
			r, err := p.Time(kind, b, cfg)
			return r.FPS, err
		}
	}
	peerSide := func() error {
		if err := torchpeer.AtOneAndBest(pr.BestBatch, peerAt("step"), &pB1, &pBest); err != nil {
			return err
		}
		return torchpeer.AtOneAndBest(pr.NetBestBatch, peerAt("net"), &nB1, &nBest)
	}
	if err := torchpeer.Alternate(cfg.PeerRounds, goSide, peerSide); err != nil {
		return nil, err
	}
	pr.GoFPSBatch1, pr.GoFPSBest = torchpeer.Median(goB1), torchpeer.Median(goBest)
	pr.FPSBatch1, pr.FPSBest = torchpeer.Median(pB1), torchpeer.Median(pBest)
	pr.NetFPSBatch1, pr.NetFPSBest = torchpeer.Median(nB1), torchpeer.Median(nBest)
	pr.RatioBatch1, pr.RatioBest = pr.GoFPSBatch1/pr.FPSBatch1, pr.GoFPSBest/pr.FPSBest
	return pr, nil
}
