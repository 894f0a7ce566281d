package remote

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"dreamrank/foundation/envelope"
	"dreamrank/worldmodel"
)

// Protocol is the version of the wire protocol in PROTOCOL.md.
const Protocol = 1

// DefaultPrefix is the subject prefix of all world-model subjects.
const DefaultPrefix = "dreamrank.wm"

// Array element types, numpy names; multi-byte types are little-endian.
const (
	dtypeUint8   = envelope.DTypeUint8
	dtypeFloat32 = envelope.DTypeFloat32
)

// arrayHeader describes one array in an envelope's blob. Arrays lie back to
// back in the order listed, C order, no padding.
type arrayHeader = envelope.Array

// Message metadata: the JSON part of envelopes, and the plain JSON bodies.
type (
	infoReply struct {
		Protocol        int               `json:"protocol"`
		Model           string            `json:"model"`
		Replica         string            `json:"replica"`
		Spec            worldmodel.Spec   `json:"spec"`
		Describe        map[string]string `json:"describe,omitempty"`
		FLOPsPerStep    float64           `json:"flops_per_step,omitempty"`
		StartSubject    string            `json:"start_subject"`
		IdleTTLMillis   int64             `json:"idle_ttl_ms"`
		MaxSessions     int               `json:"max_sessions"`
		MaxMessageBytes int               `json:"max_message_bytes"`
	}
	startRequest struct {
		RequestID      string        `json:"request_id"`
		ContextLens    []int         `json:"context_lens"`
		DeadlineMillis int64         `json:"deadline_ms,omitempty"`
		Arrays         []arrayHeader `json:"arrays"`
	}
	startReply struct {
		Session       string `json:"session"`
		Batch         int    `json:"batch"`
		StepSubject   string `json:"step_subject"`
		CloseSubject  string `json:"close_subject"`
		IdleTTLMillis int64  `json:"idle_ttl_ms"`
	}
	stepRequest struct {
		Session        string        `json:"session"`
		Seq            uint64        `json:"seq"`
		DeadlineMillis int64         `json:"deadline_ms,omitempty"`
		Arrays         []arrayHeader `json:"arrays"`
	}
	stepReply struct {
		Session string        `json:"session"`
		Seq     uint64        `json:"seq"`
		Arrays  []arrayHeader `json:"arrays"`
	}
	closeRequest struct {
		Session string `json:"session"`
	}
	closeReply struct {
		Closed bool `json:"closed"`
	}
)

// expect checks that arrays are exactly the named ones with these dtypes
// and shapes (-1 in want matches any size).
func expect(got []arrayHeader, want ...arrayHeader) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d arrays, want %d (%s)", len(got), len(want), names(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.DType != w.DType || len(g.Shape) != len(w.Shape) {
			return fmt.Errorf("array %d is %s %s%v, want %s %s with %d dims", i, g.Name, g.DType, g.Shape, w.Name, w.DType, len(w.Shape))
		}
		for d := range w.Shape {
			if w.Shape[d] >= 0 && g.Shape[d] != w.Shape[d] {
				return fmt.Errorf("array %s has shape %v, want %v", g.Name, g.Shape, w.Shape)
			}
		}
	}
	return nil
}

func names(as []arrayHeader) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Name)
	}
	return strings.Join(s, ", ")
}

// observationArrays are the headers of observations with leading dims lead.
func observationArrays(spec worldmodel.Spec, lead ...int) []arrayHeader {
	return []arrayHeader{
		{Name: "frames", DType: dtypeUint8, Shape: append(append([]int(nil), lead...), spec.FrameH, spec.FrameW, spec.Channels)},
		{Name: "proprio", DType: dtypeFloat32, Shape: append(append([]int(nil), lead...), spec.ProprioDim)},
	}
}

// appendObservations appends the blob of obs (frames block, then proprio
// block); every observation must fit the spec of the arrays' header.
func appendObservations(buf []byte, obs []worldmodel.Observation) []byte {
	for _, o := range obs {
		buf = append(buf, o.Frame...)
	}
	for _, o := range obs {
		for _, v := range o.Proprio {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return buf
}

// observationsBytes is the blob length of n observations.
func observationsBytes(spec worldmodel.Spec, n int) int {
	return n * (spec.FrameLen() + 4*spec.ProprioDim)
}

// readObservations splits frames and proprio blocks into n observations.
// Frames alias the frames block, each capped, so appending to one never
// touches another.
func readObservations(spec worldmodel.Spec, n int, frames, proprio []byte) []worldmodel.Observation {
	fl, pd := spec.FrameLen(), spec.ProprioDim
	obs := make([]worldmodel.Observation, n)
	vals := make([]float32, n*pd)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(proprio[4*i:]))
	}
	for i := range obs {
		obs[i] = worldmodel.Observation{
			Frame:   frames[i*fl : (i+1)*fl : (i+1)*fl],
			Proprio: vals[i*pd : (i+1)*pd : (i+1)*pd],
		}
	}
	return obs
}

// appendActions appends actions[i][k][j] as float32, C order.
func appendActions(buf []byte, actions [][][]float32) []byte {
	for _, ep := range actions {
		for _, a := range ep {
			for _, v := range a {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			}
		}
	}
	return buf
}

func readActions(b []byte, batch, chunk, dim int) [][][]float32 {
	vals := make([]float32, batch*chunk*dim)
	for i := range vals {
		vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	out := make([][][]float32, batch)
	for i := range out {
		out[i] = make([][]float32, chunk)
		for k := range out[i] {
			o := (i*chunk + k) * dim
			out[i][k] = vals[o : o+dim : o+dim]
		}
	}
	return out
}
