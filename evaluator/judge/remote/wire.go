package remote

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/envelope"
)

// Protocol is the version of the wire protocol in PROTOCOL.md.
const Protocol = 1

// DefaultPrefix is the subject prefix of all judge subjects.
const DefaultPrefix = "dreamrank.judge"

// maxEpisodeSteps bounds one episode's steps and maxArrayBytes one array's
// bytes, so a hostile header cannot make the decoder allocate much before
// the blob's real length is checked.
const (
	maxEpisodeSteps = 1 << 20
	maxArrayBytes   = math.MaxInt32
)

type (
	infoReply struct {
		Protocol        int               `json:"protocol"`
		Judge           string            `json:"judge"`
		Replica         string            `json:"replica"`
		Describe        map[string]string `json:"describe,omitempty"`
		JudgeSubject    string            `json:"judge_subject"`
		MaxMessageBytes int               `json:"max_message_bytes"`
	}
	episodeMeta struct {
		Steps       int    `json:"steps"`
		Instruction string `json:"instruction,omitempty"`
	}
	judgeRequest struct {
		RequestID      string        `json:"request_id"`
		DeadlineMillis int64         `json:"deadline_ms,omitempty"`
		Episodes       []episodeMeta `json:"episodes"`
		Arrays         []arrayHeader `json:"arrays"`
	}
	judgeReply struct {
		RequestID string          `json:"request_id"`
		Verdicts  []judge.Verdict `json:"verdicts"`
	}
)

// arrayHeader describes one array of a message blob.
type arrayHeader = envelope.Array

// encodeRequest builds the judge request envelope: u32 big-endian JSON
// length, the JSON, then frames (uint8 [N,H,W,C]) and proprio (float32
// [N,P], P = 0 when the episodes carry none), N the total of all steps.
// Every episode must have the first one's frame size and proprio width.
func encodeRequest(id string, deadlineMillis int64, eps []judge.Episode) ([]byte, error) {
	if len(eps) == 0 {
		return nil, fmt.Errorf("%w: no episodes", judge.ErrBadInput)
	}
	h, w, c := eps[0].FrameH, eps[0].FrameW, eps[0].Channels
	pdim := 0
	if len(eps[0].Proprio) > 0 {
		pdim = len(eps[0].Proprio[0])
	}
	req := judgeRequest{RequestID: id, DeadlineMillis: deadlineMillis}
	n := 0
	for i, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("episode %d: %w", i, err)
		}
		if e.FrameH != h || e.FrameW != w || e.Channels != c {
			return nil, fmt.Errorf("%w: episode %d has %dx%dx%d frames, episode 0 %dx%dx%d; send them apart", judge.ErrBadInput, i, e.FrameH, e.FrameW, e.Channels, h, w, c)
		}
		for t, row := range e.Proprio {
			if len(row) != pdim {
				return nil, fmt.Errorf("%w: episode %d step %d has %d proprio values, want %d", judge.ErrBadInput, i, t, len(row), pdim)
			}
		}
		if pdim > 0 && e.Proprio == nil {
			return nil, fmt.Errorf("%w: episode %d has no proprio, episode 0 has", judge.ErrBadInput, i)
		}
		req.Episodes = append(req.Episodes, episodeMeta{Steps: len(e.Frames), Instruction: e.Instruction})
		n += len(e.Frames)
	}
	req.Arrays = []arrayHeader{
		{Name: "frames", DType: "uint8", Shape: []int{n, h, w, c}},
		{Name: "proprio", DType: "float32", Shape: []int{n, pdim}},
	}
	js, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4, 4+len(js)+n*(h*w*c+4*pdim))
	binary.BigEndian.PutUint32(buf, uint32(len(js)))
	buf = append(buf, js...)
	for _, e := range eps {
		for _, f := range e.Frames {
			buf = append(buf, f...)
		}
	}
	for _, e := range eps {
		for _, row := range e.Proprio {
			for _, v := range row {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
	}
	return buf, nil
}

// decodeRequest parses a judge request envelope. Frames alias body. Every
// error wraps judge.ErrBadInput (bad_request on the wire).
func decodeRequest(body []byte) (judgeRequest, []judge.Episode, error) {
	var req judgeRequest
	bad := func(format string, args ...any) (judgeRequest, []judge.Episode, error) {
		return judgeRequest{}, nil, fmt.Errorf("%w: "+format, append([]any{judge.ErrBadInput}, args...)...)
	}
	if len(body) < 4 {
		return bad("envelope of %d bytes, shorter than its length prefix", len(body))
	}
	n := int(binary.BigEndian.Uint32(body))
	if n > len(body)-4 {
		return bad("envelope JSON length %d exceeds the %d bytes that follow", n, len(body)-4)
	}
	if err := json.Unmarshal(body[4:4+n], &req); err != nil {
		return bad("envelope JSON: %v", err)
	}
	blob := body[4+n:]
	if len(req.Episodes) == 0 {
		return bad("no episodes")
	}
	if len(req.Arrays) != 2 || req.Arrays[0].Name != "frames" || req.Arrays[0].DType != "uint8" || len(req.Arrays[0].Shape) != 4 ||
		req.Arrays[1].Name != "proprio" || req.Arrays[1].DType != "float32" || len(req.Arrays[1].Shape) != 2 {
		return bad("arrays must be frames uint8 [N,H,W,C] then proprio float32 [N,P]")
	}
	fs, ps := req.Arrays[0].Shape, req.Arrays[1].Shape
	total := 0
	for i, e := range req.Episodes {
		if e.Steps < 1 || e.Steps > maxEpisodeSteps {
			return bad("episode %d has %d steps", i, e.Steps)
		}
		total += e.Steps
	}
	if fs[0] != total || ps[0] != total {
		return bad("arrays have %d and %d rows for %d steps", fs[0], ps[0], total)
	}
	frameLen, ok := product(fs[1], fs[2], fs[3])
	if !ok || frameLen == 0 {
		return bad("frame shape %v", fs)
	}
	pdim := ps[1]
	if pdim < 0 || pdim > 1<<16 {
		return bad("proprio shape %v", ps)
	}
	framesBytes, ok1 := product(total, frameLen)
	proprioBytes, ok2 := product(total, pdim, 4)
	if !ok1 || !ok2 || framesBytes+proprioBytes != len(blob) {
		return bad("blob of %d bytes, arrays %v and %v need %d", len(blob), fs, ps, framesBytes+proprioBytes)
	}
	frames, proprio := blob[:framesBytes], blob[framesBytes:]
	eps := make([]judge.Episode, len(req.Episodes))
	row := 0
	for i, m := range req.Episodes {
		e := judge.Episode{FrameH: fs[1], FrameW: fs[2], Channels: fs[3], Instruction: m.Instruction}
		e.Frames = make([][]uint8, m.Steps)
		if pdim > 0 {
			e.Proprio = make([][]float32, m.Steps)
		}
		for t := range m.Steps {
			o := (row + t) * frameLen
			e.Frames[t] = frames[o : o+frameLen : o+frameLen]
			if pdim > 0 {
				r := make([]float32, pdim)
				for k := range r {
					r[k] = math.Float32frombits(binary.LittleEndian.Uint32(proprio[4*((row+t)*pdim+k):]))
				}
				e.Proprio[t] = r
			}
		}
		row += m.Steps
		eps[i] = e
	}
	return req, eps, nil
}

// product multiplies non-negative sizes; ok is false on a negative factor
// or a product over maxArrayBytes.
func product(xs ...int) (int, bool) {
	p := 1
	for _, x := range xs {
		if x < 0 || (x > 0 && p > maxArrayBytes/x) {
			return 0, false
		}
		p *= x
	}
	return p, true
}

// checkVerdicts rejects replies that do not fit the request: a verdict per
// episode with a score per step.
func checkVerdicts(vs []judge.Verdict, eps []judge.Episode) error {
	if len(vs) != len(eps) {
		return fmt.Errorf("%d verdicts for %d episodes", len(vs), len(eps))
	}
	for i, v := range vs {
		if len(v.Coverage) != len(eps[i].Frames) || len(v.Reward) != len(eps[i].Frames) {
			return fmt.Errorf("verdict %d scores %d/%d steps of %d", i, len(v.Coverage), len(v.Reward), len(eps[i].Frames))
		}
	}
	return nil
}
