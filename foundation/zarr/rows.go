package zarr

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// Element types the readers produce.
type element interface {
	float32 | float64 | int64 | uint8
}

// Float32s reads the whole array as float32 (dtypes <f4 and |u1).
func (a *Array) Float32s(ctx context.Context) ([]float32, error) {
	return rows[float32](ctx, a, 0, a.Len(), nil)
}

// Float64s reads the whole array as float64 (dtypes <f8, <f4, <i4, |u1:
// all exact).
func (a *Array) Float64s(ctx context.Context) ([]float64, error) {
	return rows[float64](ctx, a, 0, a.Len(), nil)
}

// Int64s reads the whole array as int64 (dtypes <i8, <i4, |u1).
func (a *Array) Int64s(ctx context.Context) ([]int64, error) {
	return rows[int64](ctx, a, 0, a.Len(), nil)
}

// Uint8s reads the whole array as uint8 (dtype |u1 only).
func (a *Array) Uint8s(ctx context.Context) ([]uint8, error) {
	return rows[uint8](ctx, a, 0, a.Len(), nil)
}

// Float32Rows reads indices [start, end) of the first axis, flattened in C
// order: (end-start)*RowElems() values. Only the chunks that overlap the
// range are decoded, so huge arrays can be streamed range by range.
func (a *Array) Float32Rows(ctx context.Context, start, end int) ([]float32, error) {
	return rows[float32](ctx, a, start, end, nil)
}

// Float64Rows is Float32Rows for float64.
func (a *Array) Float64Rows(ctx context.Context, start, end int) ([]float64, error) {
	return rows[float64](ctx, a, start, end, nil)
}

// Int64Rows is Float32Rows for int64.
func (a *Array) Int64Rows(ctx context.Context, start, end int) ([]int64, error) {
	return rows[int64](ctx, a, start, end, nil)
}

// Uint8Rows is Float32Rows for uint8.
func (a *Array) Uint8Rows(ctx context.Context, start, end int) ([]uint8, error) {
	return rows[uint8](ctx, a, start, end, nil)
}

// ReadFloat32Rows is Float32Rows into a caller's buffer of exactly
// (end-start)*RowElems() values, to stream without allocating.
func (a *Array) ReadFloat32Rows(ctx context.Context, start, end int, dst []float32) error {
	_, err := rows(ctx, a, start, end, dst)
	return err
}

// VisitRows streams rows [start, end) without converting them: fn gets
// each contiguous run of stored little-endian bytes with the run's offset,
// in elements, from the first element of row start (C order). Runs come in
// no particular order. raw aliases decoded chunks shared with other
// readers: fn must neither modify nor keep it. An error from fn stops the
// walk and is returned.
func (a *Array) VisitRows(ctx context.Context, start, end int, fn func(offset int, raw []byte) error) error {
	if start < 0 || end < start || end > a.Len() {
		return fmt.Errorf("%w: [%d, %d) of array %s with %d rows", ErrRange, start, end, a.name, a.Len())
	}
	return visitRows(ctx, a, start, end, fn)
}

// rows reads [start, end) into dst (allocated when nil).
func rows[T element](ctx context.Context, a *Array, start, end int, dst []T) ([]T, error) {
	conv, err := converter[T](a.meta.dtype)
	if err != nil {
		return nil, fmt.Errorf("array %s: %w", a.name, err)
	}
	if start < 0 || end < start || end > a.Len() {
		return nil, fmt.Errorf("%w: [%d, %d) of array %s with %d rows", ErrRange, start, end, a.name, a.Len())
	}
	n := (end - start) * a.rowElems
	if dst == nil {
		dst = make([]T, n)
	} else if len(dst) != n {
		return nil, fmt.Errorf("%w: buffer of %d values for %d", ErrRange, len(dst), n)
	}
	size := a.meta.dtype.size
	err = visitRows(ctx, a, start, end, func(off int, raw []byte) error {
		conv(dst[off:off+len(raw)/size], raw)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return dst, nil
}

// visitRows walks the chunks overlapping rows [start, end) (a valid range).
func visitRows(ctx context.Context, a *Array, start, end int, fn func(offset int, raw []byte) error) error {
	if start == end || a.rowElems == 0 {
		return nil
	}
	a.readAhead(start, end)
	shape, chunks := a.meta.shape, a.meta.chunks
	nd := len(shape)
	// The longest run that is contiguous in both the chunk and dst: the
	// trailing dims that one chunk covers exactly, plus one more dim.
	k := nd
	for k > 1 && chunks[k-1] == shape[k-1] {
		k--
	}
	runDim := k - 1
	tail := 1
	for _, s := range shape[k:] {
		tail *= s
	}
	// Strides in elements, of a full (padded) chunk and of dst.
	cs := make([]int, nd)
	ds := make([]int, nd)
	cs[nd-1], ds[nd-1] = 1, 1
	for d := nd - 2; d >= 0; d-- {
		cs[d] = cs[d+1] * chunks[d+1]
		ds[d] = ds[d+1] * shape[d+1]
	}

	idx := make([]int, nd) // chunk grid index
	lo := make([]int, nd)  // overlap of the chunk with the wanted region, absolute
	hi := make([]int, nd)
	pos := make([]int, nd)
	innerGrid := append([]int(nil), a.grid...)
	innerGrid[0] = 1
	size := a.meta.dtype.size
	for c0 := start / chunks[0]; c0*chunks[0] < end; c0++ {
		for d := range idx {
			idx[d] = 0
		}
		for {
			idx[0] = c0
			data, err := a.chunk(ctx, idx)
			if err != nil {
				return err
			}
			for d := 0; d < nd; d++ {
				o := idx[d] * chunks[d]
				lo[d], hi[d] = o, min(o+chunks[d], shape[d])
			}
			lo[0], hi[0] = max(lo[0], start), min(hi[0], end)
			run := (hi[runDim] - lo[runDim]) * tail
			// Odometer over dims before runDim, copying one run each.
			copy(pos, lo)
			for {
				co, do := 0, 0
				for d := 0; d <= runDim; d++ {
					co += (pos[d] - idx[d]*chunks[d]) * cs[d]
					if d == 0 {
						do += (pos[0] - start) * ds[0]
					} else {
						do += pos[d] * ds[d]
					}
				}
				if err := fn(do, data[co*size:(co+run)*size]); err != nil {
					return err
				}
				d := runDim - 1
				for ; d >= 0; d-- {
					pos[d]++
					if pos[d] < hi[d] {
						break
					}
					pos[d] = lo[d]
				}
				if d < 0 {
					break
				}
			}
			if !increment(idx, innerGrid) {
				break
			}
		}
	}
	return nil
}

// hostLittleEndian: stored little-endian values can then be copied as
// memory instead of decoded one by one (the bulk of image reading).
var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// converter picks the decoder from stored little-endian bytes to T, and
// refuses conversions that could lose information.
func converter[T element](d dtype) (func([]T, []byte), error) {
	var zero T
	var f any
	switch any(zero).(type) {
	case float32:
		switch d.name {
		case "<f4":
			f = func(dst []float32, src []byte) {
				if hostLittleEndian {
					copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(src))), len(dst)))
					return
				}
				for i := range dst {
					dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
				}
			}
		case "|u1":
			f = func(dst []float32, src []byte) {
				for i := range dst {
					dst[i] = float32(src[i])
				}
			}
		}
	case float64:
		switch d.name {
		case "<f8":
			f = func(dst []float64, src []byte) {
				if hostLittleEndian {
					copy(dst, unsafe.Slice((*float64)(unsafe.Pointer(unsafe.SliceData(src))), len(dst)))
					return
				}
				for i := range dst {
					dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
				}
			}
		case "<f4":
			f = func(dst []float64, src []byte) {
				for i := range dst {
					dst[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
				}
			}
		case "<i4":
			f = func(dst []float64, src []byte) {
				for i := range dst {
					dst[i] = float64(int32(binary.LittleEndian.Uint32(src[4*i:])))
				}
			}
		case "|u1":
			f = func(dst []float64, src []byte) {
				for i := range dst {
					dst[i] = float64(src[i])
				}
			}
		}
	case int64:
		switch d.name {
		case "<i8":
			f = func(dst []int64, src []byte) {
				if hostLittleEndian {
					copy(dst, unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(src))), len(dst)))
					return
				}
				for i := range dst {
					dst[i] = int64(binary.LittleEndian.Uint64(src[8*i:]))
				}
			}
		case "<i4":
			f = func(dst []int64, src []byte) {
				for i := range dst {
					dst[i] = int64(int32(binary.LittleEndian.Uint32(src[4*i:])))
				}
			}
		case "|u1":
			f = func(dst []int64, src []byte) {
				for i := range dst {
					dst[i] = int64(src[i])
				}
			}
		}
	case uint8:
		if d.name == "|u1" {
			f = func(dst []uint8, src []byte) { copy(dst, src) }
		}
	}
	if f == nil {
		return nil, unsupportedf("reading dtype %s as %T would not be exact", d.name, zero)
	}
	return f.(func([]T, []byte)), nil
}

// chunkCache keeps the most recently decoded chunks up to a byte budget.
// Sequential readers (one episode after another) hit it for the chunk
// shared by two neighbouring ranges.
type chunkCache struct {
	mu    sync.Mutex
	limit int
	used  int
	order []string // oldest first
	data  map[string][]byte
}

// maxCacheEntries bounds the LRU list so lookups stay cheap for arrays with
// many tiny chunks.
const maxCacheEntries = 64

func newChunkCache(limit int) *chunkCache {
	return &chunkCache{limit: limit, data: map[string][]byte{}}
}

func (c *chunkCache) get(key string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.data[key]
	if !ok {
		return nil
	}
	for i, k := range c.order { // move to newest; the list is a handful long
		if k == key {
			c.order = append(append(c.order[:i:i], c.order[i+1:]...), key)
			break
		}
	}
	return b
}

func (c *chunkCache) put(key string, b []byte) {
	if len(b) > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.data[key]; ok {
		return
	}
	for (c.used+len(b) > c.limit || len(c.order) >= maxCacheEntries) && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.used -= len(c.data[old])
		delete(c.data, old)
	}
	c.data[key] = b
	c.used += len(b)
	c.order = append(c.order, key)
}
