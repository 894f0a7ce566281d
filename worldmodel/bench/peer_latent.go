package bench

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
)

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

//go:embed torch_peer.py
var torchPeerScript []byte

// latentPeer is the PyTorch peer of the built-in pixel model
// (torch_peer.py): the network checked alone against Go's reference graph,
// then a chunk of full steps against Go's Step.
type latentPeer struct{}

func (latentPeer) script() []byte { return torchPeerScript }

// setup exports the model; Go's side is timed on Run's synthetic episodes
// (a dense network costs the same on any frame).
func (latentPeer) setup(ctx context.Context, m worldmodel.Model, chunk int) (peerSetup, error) {
	lm, ok := m.(*latent.Model)
	if !ok {
		return peerSetup{}, fmt.Errorf("%w: a %T says it is backend %s", ErrBadConfig, m, latent.Name)
	}
	req, err := peerRequest(ctx, lm, chunk)
	return peerSetup{req: req}, err
}

func (latentPeer) check(a *Agreement) error {
	a.Tolerance, a.FramesTolerance = NetTolerance, FramesTolerance
	if a.MaxAbsDiff > NetTolerance || a.FramesDiffFraction > FramesTolerance {
		return fmt.Errorf("%w: network max |diff| %.3g (tolerance %.0e), %.3g of the frames' bytes differ (tolerance %.0e)",
			ErrDisagree, a.MaxAbsDiff, NetTolerance, a.FramesDiffFraction, FramesTolerance)
	}
	return nil
}

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
