package ndarray

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// ErrBadMessage: a msgpack message that cannot be decoded.
var ErrBadMessage = errors.New("ndarray: bad message")

// maxDepth bounds the nesting of decoded messages.
const maxDepth = 64

// Pack encodes a message the way openpi's msgpack_numpy does. Supported
// values: nil, bool, string, []byte, Go integers and floats, *Array,
// map[string]any (keys sorted, as msgpack str), []any, []string, []int,
// []float32, []float64. *Array and Scalar become ndarray/npgeneric maps with
// bin keys.
func Pack(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	if err := encode(enc, v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encode(e *msgpack.Encoder, v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrBadMessage, maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return e.EncodeNil()
	case bool:
		return e.EncodeBool(x)
	case string:
		return e.EncodeString(x)
	case []byte:
		return e.EncodeBytes(x)
	case int:
		return e.EncodeInt(int64(x))
	case int8:
		return e.EncodeInt(int64(x))
	case int16:
		return e.EncodeInt(int64(x))
	case int32:
		return e.EncodeInt(int64(x))
	case int64:
		return e.EncodeInt(x)
	case uint8:
		return e.EncodeUint(uint64(x))
	case uint16:
		return e.EncodeUint(uint64(x))
	case uint32:
		return e.EncodeUint(uint64(x))
	case uint64:
		return e.EncodeUint(x)
	case float32:
		return e.EncodeFloat32(x)
	case float64:
		return e.EncodeFloat64(x)
	case *Array:
		if err := x.Validate(); err != nil {
			return err
		}
		return encodeArray(e, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if err := e.EncodeMapLen(len(keys)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := e.EncodeString(k); err != nil {
				return err
			}
			if err := encode(e, x[k], depth+1); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
		return nil
	case []any:
		if err := e.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, y := range x {
			if err := encode(e, y, depth+1); err != nil {
				return err
			}
		}
		return nil
	case []string:
		return encodeSlice(e, x, depth)
	case []int:
		return encodeSlice(e, x, depth)
	case []float32:
		return encodeSlice(e, x, depth)
	case []float64:
		return encodeSlice(e, x, depth)
	}
	return fmt.Errorf("%w: cannot encode %T", ErrBadMessage, v)
}

func encodeSlice[T any](e *msgpack.Encoder, x []T, depth int) error {
	if err := e.EncodeArrayLen(len(x)); err != nil {
		return err
	}
	for _, y := range x {
		if err := encode(e, y, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// encodeArray writes {b"__ndarray__": True, b"data": ..., b"dtype": "...",
// b"shape": [...]} in that order, the layout of openpi's pack_array.
func encodeArray(e *msgpack.Encoder, a *Array) error {
	data := a.Data
	if data == nil {
		data = []byte{} // nil would encode as msgpack nil
	}
	errs := []error{
		e.EncodeMapLen(4),
		e.EncodeBytes([]byte("__ndarray__")), e.EncodeBool(true),
		e.EncodeBytes([]byte("data")), e.EncodeBytes(data),
		e.EncodeBytes([]byte("dtype")), e.EncodeString(a.DType),
		e.EncodeBytes([]byte("shape")), e.EncodeArrayLen(len(a.Shape)),
	}
	for _, d := range a.Shape {
		errs = append(errs, e.EncodeInt(int64(d)))
	}
	return errors.Join(errs...)
}

// Unpack decodes one message. Maps become map[string]any (str and bin keys
// alike; integer keys are formatted in decimal), ndarray maps become *Array
// (validated), npgeneric maps become their scalar value, arrays become []any,
// integers int64 (or uint64 above MaxInt64), floats float64, strings
// string and bin []byte. Trailing bytes are an error.
func Unpack(b []byte) (any, error) {
	r := bytes.NewReader(b)
	d := msgpack.NewDecoder(r)
	v, err := decode(d, r, 0)
	if err != nil {
		return nil, err
	}
	if r, ok := d.Buffered().(*bytes.Reader); !ok || r.Len() != 0 {
		return nil, fmt.Errorf("%w: trailing bytes", ErrBadMessage)
	}
	return v, nil
}

func decode(d *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrBadMessage, maxDepth)
	}
	c, err := d.PeekCode()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return decodeMap(d, r, depth)
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		out := make([]any, 0, min(n, 1024))
		for range n {
			v, err := decode(d, r, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case msgpcode.IsBin(c):
		return decodeBin(d, r)
	case msgpcode.IsExt(c) || msgpcode.IsFixedExt(c):
		return nil, fmt.Errorf("%w: msgpack extension types are not supported", ErrBadMessage)
	}
	v, err := d.DecodeInterfaceLoose()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return v, nil
}

func decodeMap(d *msgpack.Decoder, r *bytes.Reader, depth int) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	m := make(map[string]any, min(n, 64))
	for range n {
		c, err := d.PeekCode()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		var key string
		switch {
		case msgpcode.IsString(c):
			key, err = d.DecodeString()
		case msgpcode.IsBin(c):
			var b []byte
			b, err = decodeBin(d, r)
			key = string(b)
		case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64):
			var k int64
			k, err = d.DecodeInt64()
			key = fmt.Sprint(k)
		default:
			return nil, fmt.Errorf("%w: map key of msgpack type 0x%02x", ErrBadMessage, c)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
		}
		v, err := decode(d, r, depth+1)
		if err != nil {
			return nil, err
		}
		m[key] = v
	}
	if _, ok := m["__ndarray__"]; ok {
		return arrayFromMap(m)
	}
	if _, ok := m["__npgeneric__"]; ok {
		v, ok := m["data"]
		if !ok {
			return nil, fmt.Errorf("%w: npgeneric without data", ErrBadArray)
		}
		return v, nil
	}
	return m, nil
}

// decodeBin reads a bin, checking its declared length against the bytes
// left first: msgpack's DecodeBytes allocates the declared length, so five
// hostile bytes would allocate 4 GiB. (The decoder reads r directly, as a
// bytes.Reader is an io.ByteScanner, so r.Len() is what is left.)
func decodeBin(d *msgpack.Decoder, r *bytes.Reader) ([]byte, error) {
	n, err := d.DecodeBytesLen()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if n < 0 || n > r.Len() {
		return nil, fmt.Errorf("%w: bin of %d bytes, %d left in the message", ErrBadMessage, n, r.Len())
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return b, nil
}

func arrayFromMap(m map[string]any) (*Array, error) {
	a := &Array{}
	var ok bool
	if a.Data, ok = m["data"].([]byte); !ok {
		return nil, fmt.Errorf("%w: data is %T, want bin", ErrBadArray, m["data"])
	}
	switch dt := m["dtype"].(type) {
	case string:
		a.DType = dt
	case []byte:
		a.DType = string(dt)
	default:
		return nil, fmt.Errorf("%w: dtype is %T, want str", ErrBadArray, m["dtype"])
	}
	shape, ok := m["shape"].([]any)
	if !ok {
		return nil, fmt.Errorf("%w: shape is %T, want array", ErrBadArray, m["shape"])
	}
	for _, s := range shape {
		d, ok := Int(s)
		if !ok || d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("%w: bad dimension %v in shape", ErrBadArray, s)
		}
		a.Shape = append(a.Shape, int(d))
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// Int reads an integer as Unpack decodes it (int64 or uint64 that fits).
func Int(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

// Float reads a number as Unpack decodes it (float64, float32, or an
// integer as Int reads it).
func Float(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	n, ok := Int(v)
	return float64(n), ok
}
