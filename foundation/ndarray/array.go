package ndarray

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// ErrBadArray: an ndarray map that is malformed or of an unsupported dtype.
var ErrBadArray = errors.New("ndarray: bad ndarray")

// maxDims bounds the rank of a decoded array.
const maxDims = 32

// Array is a NumPy array as it travels in msgpack-numpy messages (openpi's wire format): a msgpack map with
// bin keys __ndarray__ (true), data (C-order bytes), dtype (the NumPy dtype
// string, e.g. "<f4" or "|u1") and shape.
type Array struct {
	DType string
	Shape []int
	Data  []byte
}

// itemSizes are the supported dtypes (little-endian, as NumPy writes them on
// the machines robots run on) and their byte sizes.
var itemSizes = map[string]int{
	"|b1": 1, "|u1": 1, "|i1": 1,
	"<u2": 2, "<i2": 2,
	"<u4": 4, "<i4": 4, "<f4": 4,
	"<u8": 8, "<i8": 8, "<f8": 8,
}

// Len is the number of elements (the product of Shape).
func (a *Array) Len() int {
	n := 1
	for _, d := range a.Shape {
		n *= d
	}
	return n
}

// Validate checks the dtype, the shape and that Data holds exactly the
// elements the shape says.
func (a *Array) Validate() error {
	size, ok := itemSizes[a.DType]
	if !ok {
		return fmt.Errorf("%w: unsupported dtype %q (want one of |b1 |u1 |i1 <u2 <i2 <u4 <i4 <f4 <u8 <i8 <f8)", ErrBadArray, a.DType)
	}
	if len(a.Shape) > maxDims {
		return fmt.Errorf("%w: %d dimensions", ErrBadArray, len(a.Shape))
	}
	n := uint64(size)
	for _, d := range a.Shape {
		if d < 0 {
			return fmt.Errorf("%w: negative dimension in shape %v", ErrBadArray, a.Shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt32*8 {
			return fmt.Errorf("%w: shape %v too large", ErrBadArray, a.Shape)
		}
		n = lo
	}
	if uint64(len(a.Data)) != n {
		return fmt.Errorf("%w: dtype %s shape %v needs %d bytes, data has %d", ErrBadArray, a.DType, a.Shape, n, len(a.Data))
	}
	return nil
}

// NewFloat32 makes a "<f4" array; len(v) must equal the shape's product.
func NewFloat32(v []float32, shape ...int) *Array {
	data := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
	}
	return &Array{DType: "<f4", Shape: shape, Data: data}
}

// NewFloat64 makes a "<f8" array; len(v) must equal the shape's product.
func NewFloat64(v []float64, shape ...int) *Array {
	data := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(data[8*i:], math.Float64bits(x))
	}
	return &Array{DType: "<f8", Shape: shape, Data: data}
}

// NewUint8 makes a "|u1" array (the bytes are copied).
func NewUint8(v []uint8, shape ...int) *Array {
	return &Array{DType: "|u1", Shape: shape, Data: append([]byte(nil), v...)}
}

// Float32s converts the elements of any numeric dtype to float32.
func (a *Array) Float32s() ([]float32, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	size := itemSizes[a.DType]
	out := make([]float32, len(a.Data)/size)
	d := a.Data
	le := binary.LittleEndian
	for i := range out {
		switch a.DType {
		case "|b1", "|u1":
			out[i] = float32(d[i])
		case "|i1":
			out[i] = float32(int8(d[i]))
		case "<u2":
			out[i] = float32(le.Uint16(d[2*i:]))
		case "<i2":
			out[i] = float32(int16(le.Uint16(d[2*i:])))
		case "<u4":
			out[i] = float32(le.Uint32(d[4*i:]))
		case "<i4":
			out[i] = float32(int32(le.Uint32(d[4*i:])))
		case "<f4":
			out[i] = math.Float32frombits(le.Uint32(d[4*i:]))
		case "<u8":
			out[i] = float32(le.Uint64(d[8*i:]))
		case "<i8":
			out[i] = float32(int64(le.Uint64(d[8*i:])))
		case "<f8":
			out[i] = float32(math.Float64frombits(le.Uint64(d[8*i:])))
		}
	}
	return out, nil
}

// Float64s converts the elements of any numeric dtype to float64, exactly
// (float32 and integers up to 2^53 are represented as they are).
func (a *Array) Float64s() ([]float64, error) {
	if a.DType == "<f8" {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		out := make([]float64, len(a.Data)/8)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:]))
		}
		return out, nil
	}
	if a.DType == "<i8" || a.DType == "<u8" || a.DType == "<u4" || a.DType == "<i4" {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		size := itemSizes[a.DType]
		out := make([]float64, len(a.Data)/size)
		le := binary.LittleEndian
		for i := range out {
			switch a.DType {
			case "<i8":
				out[i] = float64(int64(le.Uint64(a.Data[8*i:])))
			case "<u8":
				out[i] = float64(le.Uint64(a.Data[8*i:]))
			case "<i4":
				out[i] = float64(int32(le.Uint32(a.Data[4*i:])))
			case "<u4":
				out[i] = float64(le.Uint32(a.Data[4*i:]))
			}
		}
		return out, nil
	}
	// The other dtypes fit float32 exactly.
	f, err := a.Float32s()
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Uint8s returns the bytes of a "|u1" array.
func (a *Array) Uint8s() ([]uint8, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	if a.DType != "|u1" {
		return nil, fmt.Errorf("%w: dtype %s, want |u1", ErrBadArray, a.DType)
	}
	return a.Data, nil
}
