package dnnl

/*
#include <stdio.h>
#include "onednn.h"

// dr_md_str writes a layout's inner blocks as oneDNN's tags spell them
// ("16b" is 16 channels interleaved) and its strides.
static void dr_md_str(const dnnl_memory_desc_t *md, char *buf, int n) {
	if (md->format_kind == dnnl_format_kind_any) {
		snprintf(buf, n, "any");
		return;
	}
	if (md->format_kind != dnnl_blocked) {
		snprintf(buf, n, "format kind %d", (int)md->format_kind);
		return;
	}
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	int k = snprintf(buf, n, "strides");
	for (int i = 0; i < md->ndims && k < n; i++)
		k += snprintf(buf + k, n - k, " %lld", (long long)b->strides[i]);
	for (int i = 0; i < b->inner_nblks && k < n; i++)
		k += snprintf(buf + k, n - k, " %lld%c", (long long)b->inner_blks[i], 'a' + (int)b->inner_idxs[i]);
}
*/
import "C"

import "fmt"

// Tag is a memory layout by name (oneDNN's format tags); Any lets the op
// that receives the Desc choose.
type Tag int

// Layouts used by dreamrank's networks.
const (
	Any  Tag = iota // oneDNN chooses (blocked layouts)
	X               // 1-D (biases)
	NC              // 2-D activations, row-major (batch x features)
	OI              // 2-D weights, row-major (out x in)
	IO              // 2-D weights, column-major (in x out rows)
	NCHW            // 4-D activations, plain
	NHWC            // 4-D activations, channels last
	OIHW            // 4-D convolution weights, plain
)

func (t Tag) c() (C.dnnl_format_tag_t, error) {
	switch t {
	case Any:
		return C.dnnl_format_tag_any, nil
	case X:
		return C.dnnl_x, nil
	case NC:
		return C.dnnl_nc, nil
	case OI:
		return C.dnnl_oi, nil
	case IO:
		return C.dnnl_io, nil
	case NCHW:
		return C.dnnl_nchw, nil
	case NHWC:
		return C.dnnl_nhwc, nil
	case OIHW:
		return C.dnnl_oihw, nil
	}
	return 0, fmt.Errorf("%w: tag %d", ErrInvalidArguments, int(t))
}

// Desc is a float32 memory descriptor: dimensions and layout. The zero
// Desc means "none" (e.g. no bias).
type Desc struct {
	md C.dnnl_memory_desc_t
}

// NewDesc describes a float32 tensor of dims (outermost first, as oneDNN
// orders them: N, C, H, W; O, I, H, W) in layout tag.
func NewDesc(tag Tag, dims ...int) (Desc, error) {
	var d Desc
	if len(dims) < 1 || len(dims) > C.DNNL_MAX_NDIMS {
		return d, fmt.Errorf("%w: %d dimensions", ErrInvalidArguments, len(dims))
	}
	ct, err := tag.c()
	if err != nil {
		return d, err
	}
	var cd C.dnnl_dims_t
	for i, v := range dims {
		if v < 1 {
			return d, fmt.Errorf("%w: dimensions %v", ErrInvalidArguments, dims)
		}
		cd[i] = C.dnnl_dim_t(v)
	}
	err = check(C.dnnl_memory_desc_init_by_tag(&d.md, C.int(len(dims)), &cd[0], C.dnnl_f32, ct), fmt.Sprintf("desc %v", dims), "dnnl_memory_desc_init_by_tag")
	return d, err
}

// NewStridedDesc describes a float32 tensor of dims whose element
// (i0, i1, ...) lies at sum(ik*strides[k]) floats from the buffer's start:
// any plain layout, e.g. a 6-D view that a Reorder turns into a
// depth-to-space shuffle (see Builder.View).
func NewStridedDesc(dims, strides []int) (Desc, error) {
	var d Desc
	if len(dims) < 1 || len(dims) > C.DNNL_MAX_NDIMS || len(strides) != len(dims) {
		return d, fmt.Errorf("%w: dimensions %v, strides %v", ErrInvalidArguments, dims, strides)
	}
	var cd, cs C.dnnl_dims_t
	for i, v := range dims {
		if v < 1 || strides[i] < 0 {
			return d, fmt.Errorf("%w: dimensions %v, strides %v", ErrInvalidArguments, dims, strides)
		}
		cd[i], cs[i] = C.dnnl_dim_t(v), C.dnnl_dim_t(strides[i])
	}
	err := check(C.dnnl_memory_desc_init_by_strides(&d.md, C.int(len(dims)), &cd[0], C.dnnl_f32, &cs[0]), fmt.Sprintf("desc %v strides %v", dims, strides), "dnnl_memory_desc_init_by_strides")
	return d, err
}

// MustDesc is NewDesc for dimensions known to be valid; it panics
// otherwise.
func MustDesc(tag Tag, dims ...int) Desc {
	d, err := NewDesc(tag, dims...)
	if err != nil {
		panic(err)
	}
	return d
}

// Dims are the logical dimensions (nil for the zero Desc).
func (d Desc) Dims() []int {
	out := make([]int, int(d.md.ndims))
	for i := range out {
		out[i] = int(d.md.dims[i])
	}
	return out
}

// String is the dimensions and the layout (strides, inner blocks).
func (d Desc) String() string {
	if d.IsZero() {
		return "none"
	}
	var buf [256]C.char
	C.dr_md_str(&d.md, &buf[0], C.int(len(buf)))
	return fmt.Sprintf("%v %s", d.Dims(), C.GoString(&buf[0]))
}

// IsZero reports the zero Desc.
func (d Desc) IsZero() bool { return d.md.ndims == 0 }

// Bytes is the buffer size the layout needs (padding included).
func (d Desc) Bytes() int { return int(C.dnnl_memory_desc_get_size(&d.md)) }

// Equal reports the same dimensions and layout.
func (d Desc) Equal(o Desc) bool { return C.dnnl_memory_desc_equal(&d.md, &o.md) != 0 }

// ptr is the descriptor for C, nil for the zero Desc.
func (d *Desc) ptr() *C.dnnl_memory_desc_t {
	if d.IsZero() {
		return nil
	}
	return &d.md
}
