// Package envelope is the framing the project's NATS protocols share (world
// models, policies, judges; each PROTOCOL.md documents its messages): a
// message is "u32 big-endian JSON length | JSON | blob", the JSON listing the
// arrays that lie back to back in the blob, and messages larger than a
// server's max_payload travel as numbered parts under one header.
package envelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"dreamrank/foundation/errcode"
)

// Header names (exact case; NATS headers are case-sensitive).
const (
	// HeaderPart marks one part of a message split to fit max_payload:
	// "i/n", 1-based. Absent on single-part messages.
	HeaderPart = "Dreamrank-Part"
	// HeaderError and HeaderErrorCode mark an error reply (the NATS micro
	// convention); the code is from the errcode catalogue.
	HeaderError     = "Nats-Service-Error"
	HeaderErrorCode = "Nats-Service-Error-Code"
)

// PartHeadroom is what a part leaves of max_payload for its headers.
const PartHeadroom = 4 << 10

// Array element types, numpy names; multi-byte types are little-endian.
const (
	DTypeUint8   = "uint8"
	DTypeFloat32 = "float32"
)

// Array describes one array in a message's blob. Arrays lie back to back in
// the order listed, C order, no padding.
type Array struct {
	Name  string `json:"name"`
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
}

// Bytes is the array's length in the blob; an unknown dtype or a negative
// or overflowing shape is an error.
func (a Array) Bytes() (int, error) {
	size := 1
	switch a.DType {
	case DTypeUint8:
	case DTypeFloat32:
		size = 4
	default:
		return 0, fmt.Errorf("array %q: dtype %q, want uint8 or float32", a.Name, a.DType)
	}
	n := size
	for _, d := range a.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, fmt.Errorf("array %q: bad shape %v", a.Name, a.Shape)
		}
		n *= d
	}
	return n, nil
}

// Seal starts a message: the length prefix and meta's JSON, with capacity
// for a blob of blobLen bytes to be appended.
func Seal(meta any, blobLen int) ([]byte, error) {
	js, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 4, 4+len(js)+blobLen)
	binary.BigEndian.PutUint32(buf, uint32(len(js)))
	return append(buf, js...), nil
}

// Open parses a message's JSON into meta and returns the bytes of each
// array that arrays (called after parsing, so it can read meta) lists,
// checked against the blob's length.
func Open(body []byte, meta any, arrays func() []Array) ([][]byte, error) {
	if len(body) < 4 {
		return nil, fmt.Errorf("envelope of %d bytes, shorter than its length prefix", len(body))
	}
	n := int(binary.BigEndian.Uint32(body))
	if n > len(body)-4 {
		return nil, fmt.Errorf("envelope JSON length %d exceeds the %d bytes that follow", n, len(body)-4)
	}
	if err := json.Unmarshal(body[4:4+n], meta); err != nil {
		return nil, fmt.Errorf("envelope JSON: %v", err)
	}
	blob := body[4+n:]
	var out [][]byte
	off := 0
	for _, a := range arrays() {
		size, err := a.Bytes()
		if err != nil {
			return nil, err
		}
		if size > len(blob)-off {
			return nil, fmt.Errorf("array %q of %d bytes overruns the blob (%d bytes left)", a.Name, size, len(blob)-off)
		}
		out = append(out, blob[off:off+size:off+size])
		off += size
	}
	if off != len(blob) {
		return nil, fmt.Errorf("%d bytes after the last array", len(blob)-off)
	}
	return out, nil
}

// Parts splits a message into pieces of at most size bytes (views, no copy).
func Parts(msg []byte, size int) [][]byte {
	if len(msg) <= size {
		return [][]byte{msg}
	}
	var ps [][]byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		ps = append(ps, msg[:n:n])
		msg = msg[n:]
	}
	return ps
}

// ParsePart reads a HeaderPart value: multi=false when absent.
func ParsePart(h string) (i, n int, multi bool, err error) {
	if h == "" {
		return 1, 1, false, nil
	}
	a, b, found := strings.Cut(h, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !found || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, true, errcode.New(errcode.BadRequest, fmt.Sprintf("%s header %q, want i/n with 1 <= i <= n", HeaderPart, h))
	}
	return i, n, true, nil
}

// ErrLostPart: a gap in a multi-part message (a lost or reordered part).
var ErrLostPart = errcode.New(errcode.Unavailable, "a part of the message was lost or reordered; resend it")

// Assembler joins the parts of one message in order.
type Assembler struct {
	buf  bytes.Buffer
	next int // next expected part, 1-based
	n    int
}

// Add takes part i/n; done reports the message complete. A gap is
// ErrLostPart; a message over limit bytes is errcode.TooLarge.
func (a *Assembler) Add(i, n int, data []byte, limit int) (done bool, err error) {
	if a.next == 0 {
		a.next, a.n = 1, n
		// Every part but the last is as long as the first: one allocation.
		a.buf.Grow(min(len(data)*n, limit))
	}
	if i != a.next || n != a.n {
		return false, ErrLostPart
	}
	if a.buf.Len()+len(data) > limit {
		return false, errcode.New(errcode.TooLarge, fmt.Sprintf("message exceeds %d bytes", limit))
	}
	a.buf.Write(data)
	a.next++
	return a.next > a.n, nil
}

// Message is the assembled message (valid once Add reported done).
func (a *Assembler) Message() []byte { return a.buf.Bytes() }
