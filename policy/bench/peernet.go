package bench

import (
	"context"
	"encoding/json"
	"fmt"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/nn"
	"dreamrank/policy"
	"dreamrank/policy/flow"
)

// peerNet is a policy's network as the PyTorch peer computes it
// (torch_peer.py), with Go's side of the unit both sides time.
type peerNet interface {
	// request is the peer's request: the network's weights and config
	// and the pool's inputs, with Go's chunks (whole Act) for the first
	// agree observations.
	request(ctx context.Context, agree int) (map[string]any, error)
	// act runs Go's side of the timed unit on the pool's observations
	// idx.
	act(ctx context.Context, idx []int) error
	// unit says what both sides time; wholeAct when it is Go's Act.
	unit() (desc string, wholeAct bool)
}

// peerNets make the peer's view of a policy of their kind, or return nil
// for another kind; the first to accept a policy runs it. A new kind of
// network is a new entry (and its part of the peer script).
var peerNets = []func(ctx context.Context, p policy.Policy, pool []policy.Observation, steer []policy.Context) (peerNet, error){
	pixelFlowNet, poseFlowNet,
}

// newPeerNet is the peer's view of p, or ErrNoPeer.
func newPeerNet(ctx context.Context, p policy.Policy, pool []policy.Observation, steer []policy.Context) (peerNet, error) {
	for _, kind := range peerNets {
		n, err := kind(ctx, p, pool, steer)
		if err != nil || n != nil {
			return n, err
		}
	}
	return nil, fmt.Errorf("%w: the torch peer runs flow policies (backend %s, and foresight's adapted ones), not %T", ErrNoPeer, flow.Name, p)
}

// mlpAdapter is an adapter the peer runs: package foresight's SiLU MLP
// (layers adapter.in, adapter.h1.., adapter.out) on the velocity and the
// time embedding, and the observation feature when ReadsObs.
type mlpAdapter interface {
	Params() *nn.Params
	ReadsObs() bool
}

// flowNet is what both flow kinds share: the policy and the pool, each
// observation's steering context (nil: unsteered), and buffers for act.
type flowNet struct {
	p     *flow.Policy
	pool  []policy.Observation
	steer []policy.Context
	obs   []policy.Observation
	st    []policy.Context
}

// asFlow is p as a flow policy whose adapter, if any, the peer can run;
// nil when p is not a flow policy.
func asFlow(p policy.Policy, pool []policy.Observation, steer []policy.Context) (*flowNet, error) {
	fp, ok := p.(*flow.Policy)
	if !ok {
		return nil, nil
	}
	if fp.Adapter != nil {
		if _, ok := fp.Adapter.(mlpAdapter); !ok {
			return nil, fmt.Errorf("%w: a flow policy with a %T adapter", ErrNoPeer, fp.Adapter)
		}
	}
	return &flowNet{p: fp, pool: pool, steer: steer}, nil
}

// batch gathers the pool's observations idx (and their contexts).
func (f *flowNet) batch(idx []int) ([]policy.Observation, []policy.Context) {
	f.obs, f.st = f.obs[:0], f.st[:0]
	for _, i := range idx {
		f.obs = append(f.obs, f.pool[i])
		if f.steer != nil {
			f.st = append(f.st, f.steer[i])
		}
	}
	if f.steer == nil {
		return f.obs, nil
	}
	return f.obs, f.st
}

// request is the part of the request both kinds share: weights, config,
// the adapter, and Act's inputs besides the observation feature.
func (f *flowNet) request(ctx context.Context, agree int) (map[string]any, flow.ActInputs, error) {
	fp, pool := f.p, f.pool
	in, err := fp.ActInputs(pool, f.steer)
	if err != nil {
		return nil, in, fmt.Errorf("%w: %v", ErrNoPeer, err)
	}
	obs, st := f.batch(seq(agree))
	chunks, err := fp.Act(ctx, obs, st)
	if err != nil {
		return nil, in, err
	}
	c := fp.Config()
	n := len(pool)
	var raw, goActs []float32
	for _, o := range pool {
		raw = append(raw, o.Proprio...)
	}
	for _, ch := range chunks {
		for _, a := range ch.Actions {
			goActs = append(goActs, a...)
		}
	}
	cx := c.CtxDim()
	poolMsg := map[string]any{
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
	var cfg map[string]any
	b, err := json.Marshal(c)
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return nil, in, err
	}
	req := map[string]any{"weights": weights(fp.Params()), "config": cfg, "pool": poolMsg, "agree": agree}
	if a, ok := fp.Adapter.(mlpAdapter); ok {
		req["adapter"], req["adapter_obs"] = weights(a.Params()), a.ReadsObs()
	}
	return req, in, nil
}

func weights(ps *nn.Params) map[string]any {
	out := map[string]any{}
	for _, t := range ps.Tensors() {
		out[t.Name] = ndarray.NewFloat32(t.Data, t.Shape...)
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// pixelNet is a flow policy on the pixel encoder: the peer computes the
// whole chunk from the frames, as Go's Act.
type pixelNet struct{ *flowNet }

func pixelFlowNet(_ context.Context, p policy.Policy, pool []policy.Observation, steer []policy.Context) (peerNet, error) {
	f, err := asFlow(p, pool, steer)
	if f == nil || err != nil || f.p.Config().Encoder != flow.EncoderConv {
		return nil, err
	}
	return pixelNet{f}, nil
}

func (n pixelNet) request(ctx context.Context, agree int) (map[string]any, error) {
	req, in, err := n.flowNet.request(ctx, agree)
	if err != nil {
		return nil, err
	}
	c := n.p.Config()
	var frames []uint8
	for _, o := range n.pool {
		frames = append(frames, o.Image...)
	}
	pool := req["pool"].(map[string]any)
	pool["frames"] = ndarray.NewUint8(frames, len(n.pool), c.FrameH, c.FrameW, 3)
	pool["proprio"] = ndarray.NewFloat32(in.Proprio, len(n.pool), c.ProprioDim)
	return req, nil
}

func (n pixelNet) act(ctx context.Context, idx []int) error {
	obs, st := n.batch(idx)
	_, err := n.p.Act(ctx, obs, st)
	return err
}

func (pixelNet) unit() (string, bool) {
	return "whole chunk: frames to actions (pooling, conv trunk, spatial softmax, 10 flow steps of the head, guidance, adapter, actions)", true
}

// poseNet is a flow policy on the pose reader: the reader (analysis by
// synthesis, not a network) stays in Go, and both sides time the network
// given its features.
type poseNet struct {
	*flowNet
	feat []float32 // the pool's features (len(pool) x ObsDim)
	fb   []float32 // a batch's
}

func poseFlowNet(ctx context.Context, p policy.Policy, pool []policy.Observation, steer []policy.Context) (peerNet, error) {
	f, err := asFlow(p, pool, steer)
	if f == nil || err != nil || f.p.Config().Encoder != flow.EncoderPose {
		return nil, err
	}
	feat, err := f.p.Features(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("%w: features: %v", ErrNoPeer, err)
	}
	return &poseNet{flowNet: f, feat: feat}, nil
}

func (n *poseNet) request(ctx context.Context, agree int) (map[string]any, error) {
	req, _, err := n.flowNet.request(ctx, agree)
	if err != nil {
		return nil, err
	}
	req["pool"].(map[string]any)["feat"] = ndarray.NewFloat32(n.feat, len(n.pool), n.p.Config().ObsDim())
	return req, nil
}

func (n *poseNet) act(ctx context.Context, idx []int) error {
	obs, st := n.batch(idx)
	od := n.p.Config().ObsDim()
	n.fb = n.fb[:0]
	for _, i := range idx {
		n.fb = append(n.fb, n.feat[i*od:(i+1)*od]...)
	}
	_, err := n.p.ActFeatures(ctx, n.fb, obs, st)
	return err
}

func (*poseNet) unit() (string, bool) {
	return "network given the pose reader's features: 10 flow steps of the head, guidance, adapter, actions (the reading itself, in Go only, is in go_act_*)", false
}
