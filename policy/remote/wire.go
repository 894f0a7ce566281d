package remote

import (
	"encoding/binary"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/policy"
)

// Protocol is the version of the wire protocol in PROTOCOL.md.
const Protocol = 1

// DefaultPrefix is the subject prefix of all policy subjects.
const DefaultPrefix = "dreamrank.policy"

// Array element types, numpy names; float32 is little-endian.
const (
	dtypeUint8   = envelope.DTypeUint8
	dtypeFloat32 = envelope.DTypeFloat32
)

// Array names of the act messages.
const (
	arrImages   = "images"
	arrProprio  = "proprio"
	arrSubgoals = "subgoals"
	arrActions  = "actions"
	// Further cameras travel as "camera.<name>".
	cameraPrefix = "camera."
)

// camRE is what a camera name may be: it becomes part of an array name.
var camRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// maxBatch bounds the observations of one request, so a hostile shape
// cannot make the decoder allocate without bound before the blob is checked.
const maxBatch = 1 << 16

// arrayHeader describes one array in an envelope's blob; arrays lie back to
// back in the order listed, C order, no padding.
type arrayHeader = envelope.Array

// Message bodies.
type (
	infoReply struct {
		Protocol        int               `json:"protocol"`
		Policy          string            `json:"policy"`
		Replica         string            `json:"replica"`
		Spec            policy.Spec       `json:"spec"`
		Describe        map[string]string `json:"describe,omitempty"`
		ActSubject      string            `json:"act_subject"`
		MaxMessageBytes int               `json:"max_message_bytes"`
	}
	// wireContext is a policy.Context without its images, which travel in
	// the "subgoals" array; SubgoalImages counts this context's share.
	wireContext struct {
		Task          string          `json:"task,omitempty"`
		Subtask       string          `json:"subtask,omitempty"`
		Metadata      policy.Metadata `json:"metadata"`
		SubgoalImages int             `json:"subgoal_images,omitempty"`
	}
	actRequest struct {
		RequestID      string        `json:"request_id,omitempty"`
		DeadlineMillis int64         `json:"deadline_ms,omitempty"`
		Contexts       []wireContext `json:"contexts,omitempty"`
		Arrays         []arrayHeader `json:"arrays"`
	}
	actReply struct {
		PolicyMillis float64       `json:"policy_ms"`
		Arrays       []arrayHeader `json:"arrays"`
	}
)

func appendFloats(buf []byte, vs []float32) []byte {
	for _, v := range vs {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
	}
	return buf
}

func readFloats(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// frameShape is the per-frame shape a client sends: the spec's when it
// knows it, else [1, L, 1] (a server that does not know its own frame size
// only checks the length).
func frameShape(spec policy.Spec, l int) []int {
	if spec.FrameLen() > 0 {
		return []int{spec.FrameH, spec.FrameW, spec.Channels}
	}
	return []int{1, l, 1}
}

// encodeAct encodes an act request. Observations must share one frame
// length, one proprio length and one set of camera names (the caller has
// validated them against the spec).
func encodeAct(spec policy.Spec, obs []policy.Observation, steer []policy.Context, requestID string, deadline int64) ([]byte, error) {
	n := len(obs)
	if n == 0 {
		return nil, fmt.Errorf("%w: empty batch", policy.ErrBadInput)
	}
	fl, pd := len(obs[0].Image), len(obs[0].Proprio)
	var cams []string
	for c := range obs[0].Frames {
		cams = append(cams, c)
	}
	slices.Sort(cams)
	for i, o := range obs {
		if len(o.Image) != fl || len(o.Proprio) != pd || len(o.Frames) != len(cams) {
			return nil, fmt.Errorf("%w: observation %d differs in size or cameras from observation 0", policy.ErrBadInput, i)
		}
		for _, c := range cams {
			if f, ok := o.Frames[c]; !ok || len(f) != fl {
				return nil, fmt.Errorf("%w: observation %d camera %q missing or of another size", policy.ErrBadInput, i, c)
			}
		}
	}
	shape := frameShape(spec, fl)
	req := actRequest{RequestID: requestID, DeadlineMillis: deadline}
	req.Arrays = []arrayHeader{
		{Name: arrImages, DType: dtypeUint8, Shape: append([]int{n}, shape...)},
		{Name: arrProprio, DType: dtypeFloat32, Shape: []int{n, pd}},
	}
	for _, c := range cams {
		if !camRE.MatchString(c) {
			return nil, fmt.Errorf("%w: camera name %q", policy.ErrBadInput, c)
		}
		req.Arrays = append(req.Arrays, arrayHeader{Name: cameraPrefix + c, DType: dtypeUint8, Shape: append([]int{n}, shape...)})
	}
	goals := 0
	if steer != nil {
		req.Contexts = make([]wireContext, n)
		for i, c := range steer {
			for _, g := range c.SubgoalImages {
				if len(g) != fl {
					return nil, fmt.Errorf("%w: context %d has a subgoal image of %d bytes, frames have %d", policy.ErrBadInput, i, len(g), fl)
				}
			}
			req.Contexts[i] = wireContext{Task: c.Task, Subtask: c.Subtask, Metadata: c.Metadata, SubgoalImages: len(c.SubgoalImages)}
			goals += len(c.SubgoalImages)
		}
		if goals > 0 {
			req.Arrays = append(req.Arrays, arrayHeader{Name: arrSubgoals, DType: dtypeUint8, Shape: append([]int{goals}, shape...)})
		}
	}
	buf, err := envelope.Seal(req, n*(fl*(1+len(cams))+4*pd)+goals*fl)
	if err != nil {
		return nil, err
	}
	for _, o := range obs {
		buf = append(buf, o.Image...)
	}
	for _, o := range obs {
		buf = appendFloats(buf, o.Proprio)
	}
	for _, c := range cams {
		for _, o := range obs {
			buf = append(buf, o.Frames[c]...)
		}
	}
	for _, c := range steer {
		for _, g := range c.SubgoalImages {
			buf = append(buf, g...)
		}
	}
	return buf, nil
}

// decodeAct decodes an act request (the parser of outside input: it checks
// every size before it slices). Frames alias body. The result is not yet
// checked against a policy's spec; the policy's Act does that.
func decodeAct(body []byte) (req actRequest, obs []policy.Observation, steer []policy.Context, err error) {
	blobs, err := envelope.Open(body, &req, func() []arrayHeader { return req.Arrays })
	if err != nil {
		return req, nil, nil, bad(err.Error())
	}
	as := req.Arrays
	if len(as) < 2 || as[0].Name != arrImages || as[0].DType != dtypeUint8 || len(as[0].Shape) != 4 ||
		as[1].Name != arrProprio || as[1].DType != dtypeFloat32 || len(as[1].Shape) != 2 {
		return req, nil, nil, bad("arrays must start with images uint8 [N,H,W,C] and proprio float32 [N,P]")
	}
	n := as[0].Shape[0]
	if n < 1 || n > maxBatch || as[1].Shape[0] != n {
		return req, nil, nil, bad(fmt.Sprintf("batch: images %v, proprio %v; want the same N in 1..%d", as[0].Shape, as[1].Shape, maxBatch))
	}
	frame := as[0].Shape[1:]
	fl := frame[0] * frame[1] * frame[2]
	if fl == 0 {
		return req, nil, nil, bad("empty frames")
	}
	pd := as[1].Shape[1]
	obs = make([]policy.Observation, n)
	prop := readFloats(blobs[1])
	for i := range obs {
		obs[i].Image = blobs[0][i*fl : (i+1)*fl : (i+1)*fl]
		obs[i].Proprio = prop[i*pd : (i+1)*pd : (i+1)*pd]
	}
	goals := -1
	for k, a := range as[2:] {
		b := blobs[k+2]
		if a.DType != dtypeUint8 || len(a.Shape) != 4 || !slices.Equal(a.Shape[1:], frame) {
			return req, nil, nil, bad(fmt.Sprintf("array %q: %s %v, want uint8 [*,%d,%d,%d]", a.Name, a.DType, a.Shape, frame[0], frame[1], frame[2]))
		}
		switch {
		case strings.HasPrefix(a.Name, cameraPrefix) && camRE.MatchString(a.Name[len(cameraPrefix):]):
			cam := a.Name[len(cameraPrefix):]
			if a.Shape[0] != n {
				return req, nil, nil, bad(fmt.Sprintf("camera %q has %d frames for %d observations", cam, a.Shape[0], n))
			}
			for i := range obs {
				if obs[i].Frames == nil {
					obs[i].Frames = map[string][]uint8{}
				}
				if _, dup := obs[i].Frames[cam]; dup {
					return req, nil, nil, bad(fmt.Sprintf("camera %q twice", cam))
				}
				obs[i].Frames[cam] = b[i*fl : (i+1)*fl : (i+1)*fl]
			}
		case a.Name == arrSubgoals && goals < 0 && k == len(as)-3:
			goals = a.Shape[0]
		default:
			return req, nil, nil, bad(fmt.Sprintf("unexpected array %q (subgoals must come last, once)", a.Name))
		}
	}
	if req.Contexts == nil {
		if goals >= 0 {
			return req, nil, nil, bad("subgoal images without contexts")
		}
		return req, obs, nil, nil
	}
	if len(req.Contexts) != n {
		return req, nil, nil, bad(fmt.Sprintf("%d contexts for %d observations", len(req.Contexts), n))
	}
	var gblob []byte
	if goals >= 0 {
		gblob = blobs[len(blobs)-1]
	}
	steer = make([]policy.Context, n)
	used := 0
	for i, c := range req.Contexts {
		if c.SubgoalImages < 0 || c.SubgoalImages > max(goals, 0)-used {
			return req, nil, nil, bad(fmt.Sprintf("context %d claims %d subgoal images; %d remain", i, c.SubgoalImages, max(goals, 0)-used))
		}
		steer[i] = policy.Context{Task: c.Task, Subtask: c.Subtask, Metadata: c.Metadata}
		for range c.SubgoalImages {
			steer[i].SubgoalImages = append(steer[i].SubgoalImages, gblob[used*fl:(used+1)*fl:(used+1)*fl])
			used++
		}
	}
	if used != max(goals, 0) {
		return req, nil, nil, bad(fmt.Sprintf("%d subgoal images sent, contexts claim %d", goals, used))
	}
	return req, obs, steer, nil
}

func bad(msg string) error { return errcode.New(errcode.BadRequest, "act request: "+msg) }

// encodeReply encodes chunks as actions float32 [N, K, D]; every chunk must
// have K actions of D values (the server checks before).
func encodeReply(chunks []policy.Chunk, policyMillis float64) ([]byte, error) {
	n, k, d := len(chunks), 0, 0
	if n > 0 && len(chunks[0].Actions) > 0 {
		k, d = len(chunks[0].Actions), len(chunks[0].Actions[0])
	}
	for i, c := range chunks {
		if len(c.Actions) != k {
			return nil, fmt.Errorf("chunk %d has %d actions, chunk 0 has %d", i, len(c.Actions), k)
		}
		for j, a := range c.Actions {
			if len(a) != d {
				return nil, fmt.Errorf("chunk %d action %d has %d values, want %d", i, j, len(a), d)
			}
		}
	}
	rep := actReply{PolicyMillis: policyMillis, Arrays: []arrayHeader{{Name: arrActions, DType: dtypeFloat32, Shape: []int{n, k, d}}}}
	buf, err := envelope.Seal(rep, 4*n*k*d)
	if err != nil {
		return nil, err
	}
	for _, c := range chunks {
		for _, a := range c.Actions {
			buf = appendFloats(buf, a)
		}
	}
	return buf, nil
}

// decodeReply decodes an act reply for a batch of n.
func decodeReply(body []byte, n int) ([]policy.Chunk, actReply, error) {
	var rep actReply
	blobs, err := envelope.Open(body, &rep, func() []arrayHeader { return rep.Arrays })
	if err != nil {
		return nil, rep, err
	}
	if len(rep.Arrays) != 1 || rep.Arrays[0].Name != arrActions || rep.Arrays[0].DType != dtypeFloat32 ||
		len(rep.Arrays[0].Shape) != 3 || rep.Arrays[0].Shape[0] != n {
		return nil, rep, fmt.Errorf("reply arrays %+v, want actions float32 [%d,K,D]", rep.Arrays, n)
	}
	k, d := rep.Arrays[0].Shape[1], rep.Arrays[0].Shape[2]
	vals := readFloats(blobs[0])
	out := make([]policy.Chunk, n)
	for i := range out {
		out[i].Actions = make([][]float32, k)
		for j := range k {
			o := (i*k + j) * d
			out[i].Actions[j] = vals[o : o+d : o+d]
		}
	}
	return out, rep, nil
}
