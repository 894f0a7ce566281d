package websocket

import (
	"fmt"
	"math"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
	"dreamrank/worldmodel"
)

// Protocol is the version of the messages (../remote/PROTOCOL.md,
// "Websocket peers"), announced in the metadata frame.
const Protocol = 1

// Kind is the metadata frame's "kind" of world-model peers.
const Kind = "worldmodel"

// Message types.
const (
	typeReset = "reset"
	typeStep  = "step"
)

// maxDim bounds a spec size read from a peer, so that a hostile metadata
// frame cannot make a client allocate much.
const maxDim = 1 << 16

// info is what the metadata frame says.
type info struct {
	spec     worldmodel.Spec
	describe map[string]string
	flops    float64
}

// metadata is the frame a peer serving m sends on connect.
func metadata(m worldmodel.Model) map[string]any {
	var desc map[string]string
	if d, ok := m.(worldmodel.Describer); ok {
		desc = d.Describe()
		if desc == nil {
			desc = map[string]string{} // a Describer always sends one
		}
	}
	meta := peer.NewMetadata(Kind, Protocol, desc)
	s := m.Spec()
	meta["spec"] = map[string]any{
		"frame_h": s.FrameH, "frame_w": s.FrameW, "channels": s.Channels, "proprio_dim": s.ProprioDim,
		"action_dim": s.ActionDim, "context_len": s.ContextLen, "control_hz": s.ControlHz,
	}
	if f, ok := m.(worldmodel.FLOPsCounter); ok {
		meta["flops_per_step"] = f.FLOPsPerStep()
	}
	return meta
}

// parseMetadata reads a peer's metadata frame.
func parseMetadata(meta map[string]any) (info, error) {
	var in info
	desc, err := peer.ReadMetadata(meta, Kind, Protocol, "a world-model peer")
	if err != nil {
		return in, err
	}
	in.describe = desc
	spec, ok := meta["spec"].(map[string]any)
	if !ok {
		return in, fmt.Errorf("metadata spec is a %T, want a map", meta["spec"])
	}
	for key, dst := range map[string]*int{
		"frame_h": &in.spec.FrameH, "frame_w": &in.spec.FrameW, "channels": &in.spec.Channels,
		"proprio_dim": &in.spec.ProprioDim, "action_dim": &in.spec.ActionDim, "context_len": &in.spec.ContextLen,
	} {
		n, ok := ndarray.Int(spec[key])
		lo := int64(1)
		if key == "proprio_dim" {
			lo = 0
		}
		if !ok || n < lo || n > maxDim {
			return in, fmt.Errorf("spec %s is %v, want an integer in %d..%d", key, spec[key], lo, maxDim)
		}
		*dst = int(n)
	}
	if in.spec.FrameLen() > 1<<28 {
		return in, fmt.Errorf("spec frames of %dx%dx%d are too large", in.spec.FrameH, in.spec.FrameW, in.spec.Channels)
	}
	hz, ok := ndarray.Float(spec["control_hz"])
	if !ok || !(hz > 0) || math.IsInf(hz, 0) {
		return in, fmt.Errorf("spec control_hz is %v, want a positive number", spec["control_hz"])
	}
	in.spec.ControlHz = hz
	if f, ok := ndarray.Float(meta["flops_per_step"]); ok && f >= 0 {
		in.flops = f
	}
	return in, nil
}

// encodeReset is a reset request: every episode's context left-padded to
// the spec's context length by repeating its oldest observation, as
// worldmodel.Spec says a short context means, with context_lens saying
// how many are real.
func encodeReset(spec worldmodel.Spec, contexts [][]worldmodel.Observation) map[string]any {
	b, t := len(contexts), spec.ContextLen
	frames := make([]uint8, 0, b*t*spec.FrameLen())
	proprio := make([]float32, 0, b*t*spec.ProprioDim)
	lens := make([]int, b)
	for i, c := range contexts {
		lens[i] = len(c)
		for k := range t {
			o := c[max(k-(t-len(c)), 0)]
			frames = append(frames, o.Frame...)
			proprio = append(proprio, o.Proprio...)
		}
	}
	return map[string]any{
		"type":         typeReset,
		"frames":       &ndarray.Array{DType: "|u1", Shape: []int{b, t, spec.FrameH, spec.FrameW, spec.Channels}, Data: frames},
		"proprio":      ndarray.NewFloat32(proprio, b, t, spec.ProprioDim),
		"context_lens": lens,
	}
}

// observations reads frames [B,K,H,W,C] and proprio [B,K,P] (any numeric
// dtype) into B rows of K observations; the frames alias the array.
func observations(spec worldmodel.Spec, msg map[string]any, b, k int) ([][]worldmodel.Observation, error) {
	fa, ok := msg["frames"].(*ndarray.Array)
	if !ok {
		return nil, fmt.Errorf("frames is a %T, want a uint8 ndarray", msg["frames"])
	}
	pa, ok := msg["proprio"].(*ndarray.Array)
	if !ok {
		return nil, fmt.Errorf("proprio is a %T, want an ndarray", msg["proprio"])
	}
	if want := []int{b, k, spec.FrameH, spec.FrameW, spec.Channels}; fa.DType != "|u1" || !equalShape(fa.Shape, want) {
		return nil, fmt.Errorf("frames are %s %v, want |u1 %v", fa.DType, fa.Shape, want)
	}
	if want := []int{b, k, spec.ProprioDim}; !equalShape(pa.Shape, want) {
		return nil, fmt.Errorf("proprio is %v, want %v", pa.Shape, want)
	}
	p, err := pa.Float32s()
	if err != nil {
		return nil, err
	}
	fl, pd := spec.FrameLen(), spec.ProprioDim
	out := make([][]worldmodel.Observation, b)
	for i := range out {
		out[i] = make([]worldmodel.Observation, k)
		for j := range out[i] {
			n := i*k + j
			out[i][j] = worldmodel.Observation{Frame: fa.Data[n*fl : (n+1)*fl : (n+1)*fl], Proprio: p[n*pd : (n+1)*pd : (n+1)*pd]}
		}
	}
	return out, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// decodeReset reads a reset request into the episodes' contexts: frames
// [B,T,H,W,C] with 1 <= T <= context_len, proprio [B,T,P], and optional
// context_lens (default T each): episode i's context is its last
// context_lens[i] observations. Errors are bad_request.
func decodeReset(spec worldmodel.Spec, req map[string]any) ([][]worldmodel.Observation, error) {
	fa, ok := req["frames"].(*ndarray.Array)
	if !ok || len(fa.Shape) != 5 {
		return nil, peer.BadRequest("reset: frames must be a uint8 ndarray [B,T,H,W,C]")
	}
	b, t := fa.Shape[0], fa.Shape[1]
	if b < 1 || t < 1 || t > spec.ContextLen {
		return nil, peer.BadRequest("reset: frames %v: want B >= 1 episodes of 1..%d observations", fa.Shape, spec.ContextLen)
	}
	obs, err := observations(spec, req, b, t)
	if err != nil {
		return nil, peer.BadRequest("reset: %v", err)
	}
	lens, ok := req["context_lens"].([]any)
	if req["context_lens"] == nil {
		lens = nil
	} else if !ok || len(lens) != b {
		return nil, peer.BadRequest("reset: context_lens must list %d integers", b)
	}
	for i, v := range lens {
		n, ok := ndarray.Int(v)
		if !ok || n < 1 || n > int64(t) {
			return nil, peer.BadRequest("reset: context_lens[%d] is %v, want 1..%d", i, v, t)
		}
		obs[i] = obs[i][t-int(n):]
	}
	return obs, nil
}

// encodeStep is a step request.
func encodeStep(spec worldmodel.Spec, actions [][][]float32, chunk int) map[string]any {
	flat := make([]float32, 0, len(actions)*chunk*spec.ActionDim)
	for _, ep := range actions {
		for _, a := range ep {
			flat = append(flat, a...)
		}
	}
	return map[string]any{"type": typeStep, "actions": ndarray.NewFloat32(flat, len(actions), chunk, spec.ActionDim)}
}

// decodeStep reads a step request's actions [B,K,A] (any numeric dtype).
// Errors are bad_request.
func decodeStep(spec worldmodel.Spec, batch int, req map[string]any) ([][][]float32, error) {
	a, ok := req["actions"].(*ndarray.Array)
	if !ok || len(a.Shape) != 3 || a.Shape[0] != batch || a.Shape[1] < 1 || a.Shape[2] != spec.ActionDim {
		return nil, peer.BadRequest("step: actions must be an ndarray [%d,K>=1,%d]", batch, spec.ActionDim)
	}
	v, err := a.Float32s()
	if err != nil {
		return nil, peer.BadRequest("step: actions: %v", err)
	}
	k, d := a.Shape[1], spec.ActionDim
	out := make([][][]float32, batch)
	for i := range out {
		out[i] = make([][]float32, k)
		for j := range out[i] {
			n := i*k + j
			out[i][j] = v[n*d : (n+1)*d : (n+1)*d]
		}
	}
	return out, nil
}

// encodePrediction is a step reply: frames [B,K,H,W,C] and proprio
// [B,K,P]. It checks that the model kept its spec (internal otherwise).
func encodePrediction(spec worldmodel.Spec, pred [][]worldmodel.Observation, batch, chunk int) (map[string]any, error) {
	if len(pred) != batch {
		return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted %d episodes, want %d", len(pred), batch))
	}
	frames := make([]uint8, 0, batch*chunk*spec.FrameLen())
	proprio := make([]float32, 0, batch*chunk*spec.ProprioDim)
	for i, ep := range pred {
		if len(ep) != chunk {
			return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted %d steps for episode %d, want %d", len(ep), i, chunk))
		}
		for k, o := range ep {
			if len(o.Frame) != spec.FrameLen() || len(o.Proprio) != spec.ProprioDim {
				return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted episode %d step %d off its spec", i, k))
			}
			frames = append(frames, o.Frame...)
			proprio = append(proprio, o.Proprio...)
		}
	}
	return map[string]any{
		"type":    typeStep,
		"frames":  &ndarray.Array{DType: "|u1", Shape: []int{batch, chunk, spec.FrameH, spec.FrameW, spec.Channels}, Data: frames},
		"proprio": ndarray.NewFloat32(proprio, batch, chunk, spec.ProprioDim),
	}, nil
}
