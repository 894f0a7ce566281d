package websocket

import (
	"fmt"
	"math"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
)

// Protocol is the version of the messages (../remote/PROTOCOL.md,
// "Websocket peers"), announced in the metadata frame.
const Protocol = 1

// Kind is the metadata frame's "kind" of judge peers.
const Kind = "judge"

// typeJudge is the one request type.
const typeJudge = "judge"

// maxSteps bounds an episode's steps in a reply, so that a hostile peer
// cannot make a client allocate much before lengths are checked.
const maxSteps = 1 << 20

// info is what the metadata frame says.
type info struct {
	describe        map[string]string
	maxMessageBytes int64 // 0: not announced
}

func metadata(describe map[string]string, maxMessageBytes int64) map[string]any {
	meta := peer.NewMetadata(Kind, Protocol, describe)
	if maxMessageBytes > 0 {
		meta["max_message_bytes"] = maxMessageBytes
	}
	return meta
}

// parseMetadata reads a peer's metadata frame.
func parseMetadata(meta map[string]any) (info, error) {
	var in info
	desc, err := peer.ReadMetadata(meta, Kind, Protocol, "a judge peer")
	if err != nil {
		return in, err
	}
	in.describe = desc
	if n, ok := ndarray.Int(meta["max_message_bytes"]); ok && n > 0 {
		in.maxMessageBytes = n
	}
	return in, nil
}

// episodeBytes is about what an episode adds to a request.
func episodeBytes(e judge.Episode) int64 {
	n := int64(len(e.Frames)) * int64(e.FrameH*e.FrameW*e.Channels)
	if len(e.Proprio) > 0 {
		n += int64(len(e.Proprio) * len(e.Proprio[0]) * 4)
	}
	return n + int64(len(e.Instruction)) + 128
}

// encodeRequest is a judge request; the episodes are valid.
func encodeRequest(eps []judge.Episode) map[string]any {
	list := make([]any, len(eps))
	for i, e := range eps {
		fl := e.FrameH * e.FrameW * e.Channels
		frames := make([]uint8, 0, len(e.Frames)*fl)
		for _, f := range e.Frames {
			frames = append(frames, f...)
		}
		m := map[string]any{"frames": &ndarray.Array{DType: "|u1", Shape: []int{len(e.Frames), e.FrameH, e.FrameW, e.Channels}, Data: frames}}
		if e.Proprio != nil {
			p := 0
			if len(e.Proprio) > 0 {
				p = len(e.Proprio[0])
			}
			flat := make([]float32, 0, len(e.Proprio)*p)
			for _, row := range e.Proprio {
				flat = append(flat, row...)
			}
			m["proprio"] = ndarray.NewFloat32(flat, len(e.Proprio), p)
		}
		if e.Instruction != "" {
			m["instruction"] = e.Instruction
		}
		list[i] = m
	}
	return map[string]any{"type": typeJudge, "episodes": list}
}

// decodeRequest reads a judge request (Go peer). Frames alias the message.
// Errors are bad_request.
func decodeRequest(req map[string]any) ([]judge.Episode, error) {
	list, ok := req["episodes"].([]any)
	if !ok {
		return nil, peer.BadRequest("episodes is a %T, want a list", req["episodes"])
	}
	eps := make([]judge.Episode, len(list))
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, peer.BadRequest("episode %d is a %T, want a map", i, v)
		}
		fa, ok := m["frames"].(*ndarray.Array)
		if !ok || fa.DType != "|u1" || len(fa.Shape) != 4 {
			return nil, peer.BadRequest("episode %d: frames must be a uint8 ndarray [T,H,W,C]", i)
		}
		t := fa.Shape[0]
		e := judge.Episode{FrameH: fa.Shape[1], FrameW: fa.Shape[2], Channels: fa.Shape[3]}
		fl := e.FrameH * e.FrameW * e.Channels
		if t > 0 && fl == 0 {
			return nil, peer.BadRequest("episode %d: frames %v", i, fa.Shape)
		}
		e.Frames = make([][]uint8, t)
		for k := range e.Frames {
			e.Frames[k] = fa.Data[k*fl : (k+1)*fl : (k+1)*fl]
		}
		if pv, ok := m["proprio"]; ok && pv != nil {
			pa, ok := pv.(*ndarray.Array)
			if !ok || len(pa.Shape) != 2 || pa.Shape[0] != t {
				return nil, peer.BadRequest("episode %d: proprio must be an ndarray [%d,P]", i, t)
			}
			p, err := pa.Float32s()
			if err != nil {
				return nil, peer.BadRequest("episode %d: proprio: %v", i, err)
			}
			d := pa.Shape[1]
			e.Proprio = make([][]float32, t)
			for k := range e.Proprio {
				e.Proprio[k] = p[k*d : (k+1)*d : (k+1)*d]
			}
		}
		switch s := m["instruction"].(type) {
		case nil:
		case string:
			e.Instruction = s
		default:
			return nil, peer.BadRequest("episode %d: instruction is a %T, want a string", i, s)
		}
		eps[i] = e
	}
	return eps, nil
}

// encodeReply is a judge reply.
func encodeReply(vs []judge.Verdict) map[string]any {
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = map[string]any{
			"coverage": v.Coverage, "reward": v.Reward, "max_reward": v.MaxReward,
			"success": v.Success, "success_step": v.SuccessStep, "unreadable": v.Unreadable,
		}
	}
	return map[string]any{"type": typeJudge, "verdicts": list}
}

// decodeReply reads a peer's verdicts for episodes of these step counts
// and checks them against judge.Verdict's documentation: a peer off it is
// an error, not a silently wrong ranking. max_reward (default: the best
// reward) and unreadable (default 0) may be left out.
func decodeReply(resp map[string]any, steps []int) ([]judge.Verdict, error) {
	list, ok := resp["verdicts"].([]any)
	if !ok {
		return nil, fmt.Errorf("verdicts is a %T, want a list", resp["verdicts"])
	}
	if len(list) != len(steps) {
		return nil, fmt.Errorf("%d verdicts for %d episodes", len(list), len(steps))
	}
	out := make([]judge.Verdict, len(list))
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("verdict %d is a %T, want a map", i, v)
		}
		vd, err := decodeVerdict(m, steps[i])
		if err != nil {
			return nil, fmt.Errorf("verdict %d: %w", i, err)
		}
		out[i] = vd
	}
	return out, nil
}

func decodeVerdict(m map[string]any, steps int) (judge.Verdict, error) {
	var (
		v   judge.Verdict
		err error
		ok  bool
	)
	if v.Coverage, err = series(m["coverage"], steps); err != nil {
		return v, fmt.Errorf("coverage: %w", err)
	}
	if v.Reward, err = series(m["reward"], steps); err != nil {
		return v, fmt.Errorf("reward: %w", err)
	}
	best := 0.0
	for _, r := range v.Reward {
		best = max(best, r)
	}
	v.MaxReward = best
	if x, ok := m["max_reward"]; ok && x != nil {
		f, ok := ndarray.Float(x)
		if !ok || math.Abs(f-best) > 1e-6 {
			return v, fmt.Errorf("max_reward %v, but the best reward is %v", x, best)
		}
	}
	if v.Success, ok = m["success"].(bool); !ok {
		return v, fmt.Errorf("success is a %T, want a bool", m["success"])
	}
	s, ok := ndarray.Int(m["success_step"])
	if !ok || s < -1 || s >= int64(steps) || (s >= 0) != v.Success {
		return v, fmt.Errorf("success %v at step %v of %d", v.Success, m["success_step"], steps)
	}
	v.SuccessStep = int(s)
	if x, ok := m["unreadable"]; ok && x != nil {
		n, ok := ndarray.Int(x)
		if !ok || n < 0 || n > int64(steps) {
			return v, fmt.Errorf("unreadable %v of %d frames", x, steps)
		}
		v.Unreadable = int(n)
	}
	return v, nil
}

// series reads steps numbers in [0,1]: a list or a numeric ndarray.
func series(v any, steps int) ([]float64, error) {
	var out []float64
	switch x := v.(type) {
	case *ndarray.Array:
		if len(x.Shape) != 1 {
			return nil, fmt.Errorf("an ndarray of shape %v, want [%d]", x.Shape, steps)
		}
		f, err := x.Float64s()
		if err != nil {
			return nil, err
		}
		out = f
	case []any:
		if len(x) > maxSteps {
			return nil, fmt.Errorf("%d values", len(x))
		}
		out = make([]float64, len(x))
		for i, e := range x {
			f, ok := ndarray.Float(e)
			if !ok {
				return nil, fmt.Errorf("value %d is a %T, want a number", i, e)
			}
			out[i] = f
		}
	default:
		return nil, fmt.Errorf("a %T, want a list or an ndarray of %d numbers", v, steps)
	}
	if len(out) != steps {
		return nil, fmt.Errorf("%d values for %d steps", len(out), steps)
	}
	for i, f := range out {
		if !(f >= 0 && f <= 1) {
			return nil, fmt.Errorf("step %d: %v, want a value in [0,1]", i, f)
		}
	}
	return out, nil
}
