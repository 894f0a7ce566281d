package episode

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// The steps file is a valid zstd stream (so `zstd -d` yields the raw
// arrays) made of three frames:
//
//  1. a skippable frame (magic 0x184D2A50) holding "DRSTEPS1" and a JSON
//     header that lists the arrays: name, dtype, shape;
//  2. the payload, a zstd frame with its own content checksum: the arrays
//     in header order, little-endian, C order, back to back;
//  3. a skippable frame (magic 0x184D2A51) holding "DRCRC32C" and the
//     CRC-32C (Castagnoli) of every byte of the file before it.
//
// See FORMAT.md.
const (
	headerMagic   = 0x184D2A50
	trailerMagic  = 0x184D2A51
	headerTag     = "DRSTEPS1"
	trailerTag    = "DRCRC32C"
	trailerLen    = 8 + 8 + 4
	maxHeaderLen  = 1 << 20
	maxStepsBytes = 1 << 34 // 16 GiB of raw arrays: far above any episode, far below int overflow
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// stepsHeader is the JSON in the first frame.
type stepsHeader struct {
	Format int         `json:"format"`
	Steps  int         `json:"steps"`
	Arrays []arraySpec `json:"arrays"`
}

type arraySpec struct {
	Name  string `json:"name"`
	DType string `json:"dtype"` // "u1", "f4", "f8"
	Shape []int  `json:"shape"` // first dimension is steps
}

var dtypeSize = map[string]int{"u1": 1, "f4": 4, "f8": 8}

// Array names of format 1. Readers skip names they do not know, so later
// writers may add arrays without a format bump.
const (
	arrFrames      = "frames"
	arrProprio     = "proprio"
	arrActions     = "actions"
	arrTimestamps  = "timestamps"
	arrGroundTruth = "ground_truth"
	arrRewards     = "rewards"
)

var (
	encOnce sync.Once
	encoder *zstd.Encoder
)

func zstdEncoder() *zstd.Encoder {
	encOnce.Do(func() {
		encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(true))
	})
	return encoder
}

// EncodeSteps serialises e's per-step arrays as a steps.zst file
// (FORMAT.md), filling e's shape fields from the arrays first. Robots
// upload their episode logs in this form.
func EncodeSteps(e *Episode) ([]byte, error) {
	e.fillShapes()
	return encodeSteps(e)
}

// DecodeSteps parses a steps.zst file into e's arrays and shape fields; a
// damaged or hostile file is ErrCorrupt.
func DecodeSteps(b []byte, e *Episode) error { return decodeSteps(b, e) }

// encodeSteps serialises the episode's arrays (shape fields must be filled).
func encodeSteps(e *Episode) ([]byte, error) {
	t := e.Steps
	h := stepsHeader{Format: FormatVersion, Steps: t}
	var raw []byte
	add := func(name, dt string, shape []int, data []byte) {
		h.Arrays = append(h.Arrays, arraySpec{Name: name, DType: dt, Shape: shape})
		raw = append(raw, data...)
	}
	frameBytes := e.FrameH * e.FrameW * e.Channels
	raw = make([]byte, 0, t*frameBytes+t*8*(1+e.ProprioDim+e.ActionDim+e.GroundTruthDim+1))
	frames := make([]byte, 0, t*frameBytes)
	for _, f := range e.Frames {
		frames = append(frames, f...)
	}
	add(arrFrames, "u1", []int{t, e.FrameH, e.FrameW, e.Channels}, frames)
	add(arrProprio, "f4", []int{t, e.ProprioDim}, f32rows(e.Proprio))
	add(arrActions, "f4", []int{t, e.ActionDim}, f32rows(e.Actions))
	ts := make([]byte, 0, 8*t)
	for _, x := range e.Timestamps {
		ts = binary.LittleEndian.AppendUint64(ts, math.Float64bits(x))
	}
	add(arrTimestamps, "f8", []int{t}, ts)
	if e.GroundTruth != nil {
		add(arrGroundTruth, "f4", []int{t, e.GroundTruthDim}, f32rows(e.GroundTruth))
	}
	if e.Rewards != nil {
		add(arrRewards, "f4", []int{t}, f32rows([][]float32{e.Rewards}))
	}

	hj, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	writeSkippable(&out, headerMagic, append([]byte(headerTag), hj...))
	out.Write(zstdEncoder().EncodeAll(raw, nil))
	sum := crc32.Checksum(out.Bytes(), castagnoli)
	writeSkippable(&out, trailerMagic, binary.LittleEndian.AppendUint32([]byte(trailerTag), sum))
	return out.Bytes(), nil
}

func writeSkippable(w *bytes.Buffer, magic uint32, content []byte) {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[0:], magic)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(content)))
	w.Write(hdr[:])
	w.Write(content)
}

func f32rows(rows [][]float32) []byte {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	out := make([]byte, 0, 4*n)
	for _, r := range rows {
		for _, x := range r {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		}
	}
	return out
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: steps file: "+format, append([]any{ErrCorrupt}, args...)...)
}

// decodeSteps parses a steps file into the episode's arrays and shape
// fields. It checks the checksum before decompressing and bounds every
// size by what the file can actually hold, so a damaged or hostile file
// yields ErrCorrupt rather than a panic or a huge allocation.
func decodeSteps(b []byte, e *Episode) error {
	// Trailer first: a checksum mismatch is the most likely damage.
	if len(b) < 8+len(headerTag)+trailerLen {
		return corrupt("%d bytes is too short", len(b))
	}
	tr := b[len(b)-trailerLen:]
	if binary.LittleEndian.Uint32(tr) != trailerMagic || binary.LittleEndian.Uint32(tr[4:]) != 12 || string(tr[8:16]) != trailerTag {
		return corrupt("missing checksum trailer (truncated?)")
	}
	body := b[:len(b)-trailerLen]
	if want, got := binary.LittleEndian.Uint32(tr[16:]), crc32.Checksum(body, castagnoli); want != got {
		return corrupt("checksum mismatch (stored %08x, computed %08x)", want, got)
	}

	if binary.LittleEndian.Uint32(body) != headerMagic {
		return corrupt("not a dreamrank steps file")
	}
	hlen := int(binary.LittleEndian.Uint32(body[4:]))
	if hlen < len(headerTag) || hlen > maxHeaderLen || hlen > len(body)-8 {
		return corrupt("header length %d", hlen)
	}
	content := body[8 : 8+hlen]
	if string(content[:len(headerTag)]) != headerTag {
		return corrupt("not a dreamrank steps file")
	}
	var h stepsHeader
	if err := json.Unmarshal(content[len(headerTag):], &h); err != nil {
		return corrupt("header: %v", err)
	}
	if h.Format != FormatVersion {
		return fmt.Errorf("%w: steps format %d (this build reads %d)", ErrUnsupported, h.Format, FormatVersion)
	}
	if h.Steps <= 0 {
		return corrupt("%d steps", h.Steps)
	}
	sizes := make([]int, len(h.Arrays))
	total := 0
	seen := map[string]bool{}
	for i, a := range h.Arrays {
		es, ok := dtypeSize[a.DType]
		if !ok || len(a.Shape) == 0 || len(a.Shape) > 8 || a.Shape[0] != h.Steps || seen[a.Name] {
			return corrupt("array %q: dtype %q shape %v", a.Name, a.DType, a.Shape)
		}
		seen[a.Name] = true
		n := es
		for _, d := range a.Shape {
			if d <= 0 || n > maxStepsBytes/d {
				return corrupt("array %q: shape %v", a.Name, a.Shape)
			}
			n *= d
		}
		sizes[i] = n
		total += n
		if total > maxStepsBytes {
			return corrupt("arrays total more than %d bytes", maxStepsBytes)
		}
	}

	raw, err := decompressExactly(body[8+hlen:], total)
	if err != nil {
		return corrupt("payload: %v", err)
	}

	e.Steps = h.Steps
	off := 0
	for i, a := range h.Arrays {
		data := raw[off : off+sizes[i]]
		off += sizes[i]
		if err := e.setArray(a, data); err != nil {
			return err
		}
	}
	for _, name := range []string{arrFrames, arrProprio, arrActions, arrTimestamps} {
		if !seen[name] {
			return corrupt("array %q missing", name)
		}
	}
	return nil
}

// decompressExactly decodes the payload frame into exactly n bytes. The
// buffer grows with what is actually decoded instead of trusting n up
// front, and the decoder's window is bounded by n, so a damaged header
// cannot make it allocate much more than the data really holds.
func decompressExactly(src []byte, n int) ([]byte, error) {
	maxWin := uint64(16 << 20)
	for maxWin < uint64(n) && maxWin < 1<<31 {
		maxWin <<= 1
	}
	d, err := zstd.NewReader(bytes.NewReader(src),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxWin))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	out := make([]byte, 0, min(n, 16<<20))
	for len(out) < n {
		if len(out) == cap(out) {
			grown := make([]byte, len(out), min(n, 2*cap(out)))
			copy(grown, out)
			out = grown
		}
		m, err := d.Read(out[len(out):cap(out)])
		out = out[:len(out)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(out) != n {
		return nil, fmt.Errorf("%d bytes, header says %d", len(out), n)
	}
	var one [1]byte
	if m, err := d.Read(one[:]); m != 0 || !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("more than the %d bytes the header declares", n)
	}
	return out, nil
}

// setArray installs one decoded array; rows alias one backing slice.
func (e *Episode) setArray(a arraySpec, data []byte) error {
	t := e.Steps
	want := func(dt string, dims int) error {
		if a.DType != dt || len(a.Shape) != dims {
			return corrupt("array %q: dtype %s shape %v", a.Name, a.DType, a.Shape)
		}
		return nil
	}
	switch a.Name {
	case arrFrames:
		if err := want("u1", 4); err != nil {
			return err
		}
		e.FrameH, e.FrameW, e.Channels = a.Shape[1], a.Shape[2], a.Shape[3]
		fs := e.FrameH * e.FrameW * e.Channels
		e.Frames = make([][]uint8, t)
		for i := range e.Frames {
			e.Frames[i] = data[i*fs : (i+1)*fs : (i+1)*fs]
		}
	case arrProprio, arrActions, arrGroundTruth:
		if err := want("f4", 2); err != nil {
			return err
		}
		rows := f32split(data, t, a.Shape[1])
		switch a.Name {
		case arrProprio:
			e.Proprio, e.ProprioDim = rows, a.Shape[1]
		case arrActions:
			e.Actions, e.ActionDim = rows, a.Shape[1]
		default:
			e.GroundTruth, e.GroundTruthDim = rows, a.Shape[1]
		}
	case arrTimestamps:
		if err := want("f8", 1); err != nil {
			return err
		}
		e.Timestamps = make([]float64, t)
		for i := range e.Timestamps {
			e.Timestamps[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
		}
	case arrRewards:
		if err := want("f4", 1); err != nil {
			return err
		}
		e.Rewards, e.HasRewards = f32split(data, 1, t)[0], true
	}
	return nil
}

func f32split(data []byte, rows, dim int) [][]float32 {
	flat := make([]float32, rows*dim)
	if hostLittleEndian {
		copy(flat, unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(data))), len(flat)))
	} else {
		for i := range flat {
			flat[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	}
	out := make([][]float32, rows)
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out
}

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
