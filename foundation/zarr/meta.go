package zarr

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Limits that keep a hostile .zarray from making us allocate absurd sizes.
// maxChunkBytes is blosc 1.x's own limit (nbytes is an int32 less its header).
const (
	maxDims       = 32
	maxChunkBytes = math.MaxInt32 - 16
	maxArrayBytes = 1 << 50
)

// dtype describes one supported numpy dtype string.
type dtype struct {
	name string // as written in .zarray, e.g. "<f4"
	size int    // bytes per element
	kind byte   // 'f' float, 'i' signed int, 'u' unsigned int
}

var dtypes = map[string]dtype{
	"<f4": {"<f4", 4, 'f'},
	"<f8": {"<f8", 8, 'f'},
	"<i4": {"<i4", 4, 'i'},
	"<i8": {"<i8", 8, 'i'},
	"|u1": {"|u1", 1, 'u'},
}

// compressor is the parsed "compressor" entry of .zarray.
type compressor struct {
	id      string // "" (none), "blosc" or "zstd"
	cname   string // blosc only: the codec named in the metadata
	shuffle int    // blosc only: as configured (chunk headers are authoritative)
}

func (c compressor) String() string {
	switch c.id {
	case "":
		return "null"
	case "blosc":
		return "blosc/" + c.cname
	}
	return c.id
}

// arrayMeta is a validated .zarray.
type arrayMeta struct {
	shape      []int
	chunks     []int
	dtype      dtype
	compressor compressor
	fill       []byte // one element, little-endian; nil when fill_value is null
	sep        string // dimension separator for chunk keys
}

// rawMeta mirrors .zarray; fields stay raw so each can be checked precisely.
type rawMeta struct {
	ZarrFormat json.RawMessage `json:"zarr_format"`
	Shape      json.RawMessage `json:"shape"`
	Chunks     json.RawMessage `json:"chunks"`
	DType      json.RawMessage `json:"dtype"`
	Compressor json.RawMessage `json:"compressor"`
	FillValue  json.RawMessage `json:"fill_value"`
	Order      json.RawMessage `json:"order"`
	Filters    json.RawMessage `json:"filters"`
	DimSep     json.RawMessage `json:"dimension_separator"`
}

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func unsupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupported}, args...)...)
}

func isNull(m json.RawMessage) bool {
	return len(m) == 0 || string(bytes.TrimSpace(m)) == "null"
}

// parseMeta validates a .zarray document. Errors wrap ErrCorrupt or
// ErrUnsupported; they do not name the array (the caller adds that).
func parseMeta(data []byte) (arrayMeta, error) {
	var raw rawMeta
	if err := json.Unmarshal(data, &raw); err != nil {
		return arrayMeta{}, corruptf(".zarray is not a JSON object: %v", err)
	}
	var m arrayMeta

	var format int
	if err := json.Unmarshal(raw.ZarrFormat, &format); err != nil || isNull(raw.ZarrFormat) {
		return m, corruptf("zarr_format missing or not an integer")
	}
	if format != 2 {
		return m, unsupportedf("zarr_format %d (only 2)", format)
	}

	var err error
	if m.shape, err = parseDims("shape", raw.Shape, 0); err != nil {
		return m, err
	}
	if m.chunks, err = parseDims("chunks", raw.Chunks, 1); err != nil {
		return m, err
	}
	if len(m.shape) == 0 {
		return m, unsupportedf("0-dimensional arrays")
	}
	if len(m.chunks) != len(m.shape) {
		return m, corruptf("chunks has %d dims, shape has %d", len(m.chunks), len(m.shape))
	}

	var dt string
	if err := json.Unmarshal(raw.DType, &dt); err != nil {
		if len(bytes.TrimSpace(raw.DType)) > 0 && bytes.TrimSpace(raw.DType)[0] == '[' {
			return m, unsupportedf("structured dtype")
		}
		return m, corruptf("dtype missing or not a string")
	}
	d, ok := dtypes[dt]
	if !ok {
		return m, unsupportedf("dtype %q (supported: <f4 <f8 <i4 <i8 |u1)", dt)
	}
	m.dtype = d

	// Sizes, with overflow checks: a chunk must fit blosc's int32 limit and
	// the whole array must be addressable.
	chunkBytes := d.size
	for _, c := range m.chunks {
		if chunkBytes > maxChunkBytes/c {
			return m, unsupportedf("chunk of %v x %d bytes exceeds %d bytes", m.chunks, d.size, maxChunkBytes)
		}
		chunkBytes *= c
	}
	arrBytes := d.size
	for _, s := range m.shape {
		if s != 0 && arrBytes > maxArrayBytes/s {
			return m, unsupportedf("array of %v x %d bytes is too large", m.shape, d.size)
		}
		arrBytes *= s
	}

	var order string
	if err := json.Unmarshal(raw.Order, &order); err != nil {
		return m, corruptf("order missing or not a string")
	}
	switch order {
	case "C":
	case "F":
		return m, unsupportedf("order \"F\"")
	default:
		return m, corruptf("order %q", order)
	}

	if !isNull(raw.Filters) {
		var filters []json.RawMessage
		if err := json.Unmarshal(raw.Filters, &filters); err != nil {
			return m, corruptf("filters is neither null nor a list")
		}
		if len(filters) > 0 {
			return m, unsupportedf("filters %s", string(raw.Filters))
		}
	}

	if m.compressor, err = parseCompressor(raw.Compressor); err != nil {
		return m, err
	}
	if m.fill, err = parseFill(raw.FillValue, d); err != nil {
		return m, err
	}

	m.sep = "."
	if !isNull(raw.DimSep) {
		if err := json.Unmarshal(raw.DimSep, &m.sep); err != nil || (m.sep != "." && m.sep != "/") {
			return m, corruptf("dimension_separator %s", string(raw.DimSep))
		}
	}
	return m, nil
}

func parseDims(field string, raw json.RawMessage, min int) ([]int, error) {
	var v []int64
	if isNull(raw) {
		return nil, corruptf("%s missing", field)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, corruptf("%s is not a list of integers", field)
	}
	if len(v) > maxDims {
		return nil, unsupportedf("%s has %d dims (max %d)", field, len(v), maxDims)
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < int64(min) || x > math.MaxInt32 {
			return nil, corruptf("%s[%d] = %d out of range", field, i, x)
		}
		out[i] = int(x)
	}
	return out, nil
}

func parseCompressor(raw json.RawMessage) (compressor, error) {
	if isNull(raw) {
		return compressor{}, nil
	}
	var c struct {
		ID      string          `json:"id"`
		CName   string          `json:"cname"`
		Shuffle json.RawMessage `json:"shuffle"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return compressor{}, corruptf("compressor is neither null nor an object")
	}
	switch c.ID {
	case "zstd":
		return compressor{id: "zstd"}, nil
	case "blosc":
		switch c.CName {
		case "zstd", "lz4", "lz4hc", "zlib":
		case "blosclz", "snappy":
			return compressor{}, unsupportedf("blosc codec %q (supported: zstd lz4 lz4hc zlib)", c.CName)
		default:
			return compressor{}, corruptf("blosc cname %q", c.CName)
		}
		sh := 0
		if !isNull(c.Shuffle) {
			if err := json.Unmarshal(c.Shuffle, &sh); err != nil || sh < -1 || sh > 2 {
				return compressor{}, corruptf("blosc shuffle %s", string(c.Shuffle))
			}
		}
		return compressor{id: "blosc", cname: c.CName, shuffle: sh}, nil
	case "":
		return compressor{}, corruptf("compressor without id")
	default:
		return compressor{}, unsupportedf("compressor %q (supported: null, blosc, zstd)", c.ID)
	}
}

// parseFill encodes fill_value as one little-endian element. Floats accept
// the spec's "NaN", "Infinity" and "-Infinity"; an f4 fill is rounded from
// the JSON double, integers must be exact and in range.
func parseFill(raw json.RawMessage, d dtype) ([]byte, error) {
	if isNull(raw) {
		return nil, nil
	}
	out := make([]byte, d.size)
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if d.kind != 'f' {
			return nil, corruptf("fill_value %q for dtype %s", s, d.name)
		}
		var f float64
		switch s {
		case "NaN":
			f = math.NaN()
		case "Infinity":
			f = math.Inf(1)
		case "-Infinity":
			f = math.Inf(-1)
		default:
			return nil, corruptf("fill_value %q", s)
		}
		putFloat(out, d, f)
		return out, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		return nil, corruptf("fill_value %s is not a number", strings.TrimSpace(string(raw)))
	}
	switch d.kind {
	case 'f':
		f, err := n.Float64()
		if err != nil {
			return nil, corruptf("fill_value %s: %v", n, err)
		}
		putFloat(out, d, f)
	case 'i', 'u':
		i, err := n.Int64()
		if err != nil {
			// Some writers emit 0.0 for integer arrays; accept exact integers.
			f, ferr := n.Float64()
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return nil, corruptf("fill_value %s for dtype %s", n, d.name)
			}
			i = int64(f)
		}
		switch d.size {
		case 1:
			if i < 0 || i > 255 {
				return nil, corruptf("fill_value %d out of range for %s", i, d.name)
			}
			out[0] = byte(i)
		case 4:
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, corruptf("fill_value %d out of range for %s", i, d.name)
			}
			binary.LittleEndian.PutUint32(out, uint32(int32(i)))
		case 8:
			binary.LittleEndian.PutUint64(out, uint64(i))
		}
	}
	return out, nil
}

func putFloat(out []byte, d dtype, f float64) {
	if d.size == 4 {
		binary.LittleEndian.PutUint32(out, math.Float32bits(float32(f)))
	} else {
		binary.LittleEndian.PutUint64(out, math.Float64bits(f))
	}
}
