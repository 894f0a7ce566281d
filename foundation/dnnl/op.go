package dnnl

/*
#include <stdlib.h>
#include "onednn.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// PostOp is an operation fused after an op's result, before it is stored.
type PostOp struct {
	sum, swish   bool
	scale, alpha float32
}

// Sum adds scale times the destination's previous contents to the result:
// a residual add without a pass of its own (the destination must hold the
// residual stream when the op runs).
func Sum(scale float32) PostOp { return PostOp{sum: true, scale: scale} }

// ReLU is max(x, 0) + slope*min(x, 0): a leaky ReLU for slope > 0.
func ReLU(slope float32) PostOp { return PostOp{scale: 1, alpha: slope} }

// Swish is x * sigmoid(beta*x); beta 1 is SiLU.
func Swish(beta float32) PostOp { return PostOp{swish: true, scale: 1, alpha: beta} }

// Conv is a 2-D convolution for inference: Src (N, C, H, W), Weights (O, C,
// KH, KW), Dst (N, O, OH, OW), any of them with Tag Any so oneDNN picks the
// layout; Bias adds O values (layout X) to every output.
//
// Transposed makes it a transposed convolution ("deconvolution"): every
// input pixel i adds its weighted kernel to the outputs Stride*i - PadL +
// k, so OH = (H-1)*Stride - PadL - PadR + KH. Nearest upsampling followed
// by a convolution is one of these with summed taps, without the
// upsampled tensor and with fewer multiply-adds.
type Conv struct {
	Src, Weights, Dst Desc
	Bias              bool
	Stride            [2]int // zero means 1
	PadL, PadR        [2]int // zero padding before and after, (y, x)
	PostOps           []PostOp
	Transposed        bool
}

// InnerProduct is a fully connected layer for inference: Src (N, C),
// Weights (O, C), Dst (N, O); Bias adds O values.
type InnerProduct struct {
	Src, Weights, Dst Desc
	Bias              bool
	PostOps           []PostOp
}

// Op is a oneDNN primitive descriptor: an operation on fixed shapes and
// layouts, ready to be bound in a Plan (which then owns it).
type Op struct {
	name string
	mu   sync.Mutex
	pd   C.dnnl_primitive_desc_t
}

// attr makes primitive attributes with posts and the user scratchpad
// mode; the caller destroys them. Why user scratchpads: in oneDNN's
// default mode a primitive's scratch buffer is a per-thread global sized
// when the primitive is created, and runs may execute on another runner
// thread than the one that created the primitive (found on SSE4.1, whose
// gemm-based convolutions then crashed); Plan.Add gives every primitive
// its own scratch buffer instead.
func attr(name string, posts []PostOp) (C.dnnl_primitive_attr_t, error) {
	var a C.dnnl_primitive_attr_t
	if err := check(C.dnnl_primitive_attr_create(&a), name, "dnnl_primitive_attr_create"); err != nil {
		return nil, err
	}
	if err := check(C.dnnl_primitive_attr_set_scratchpad_mode(a, C.dnnl_scratchpad_mode_user), name, "dnnl_primitive_attr_set_scratchpad_mode"); err != nil {
		C.dnnl_primitive_attr_destroy(a)
		return nil, err
	}
	if len(posts) == 0 {
		return a, nil
	}
	var po C.dnnl_post_ops_t
	if err := check(C.dnnl_post_ops_create(&po), name, "dnnl_post_ops_create"); err != nil {
		C.dnnl_primitive_attr_destroy(a)
		return nil, err
	}
	defer C.dnnl_post_ops_destroy(po)
	for _, p := range posts {
		var err error
		if p.sum {
			err = check(C.dnnl_post_ops_append_sum(po, C.float(p.scale)), name, "dnnl_post_ops_append_sum")
		} else {
			alg := C.dnnl_alg_kind_t(C.dnnl_eltwise_relu)
			if p.swish {
				alg = C.dnnl_eltwise_swish
			}
			err = check(C.dnnl_post_ops_append_eltwise(po, C.float(p.scale), alg, C.float(p.alpha), 0), name, "dnnl_post_ops_append_eltwise")
		}
		if err != nil {
			C.dnnl_primitive_attr_destroy(a)
			return nil, err
		}
	}
	if err := check(C.dnnl_primitive_attr_set_post_ops(a, po), name, "dnnl_primitive_attr_set_post_ops"); err != nil {
		C.dnnl_primitive_attr_destroy(a)
		return nil, err
	}
	return a, nil
}

// newOp creates the primitive descriptor of the op descriptor desc.
func (eng *Engine) newOp(name string, desc C.const_dnnl_op_desc_t, posts []PostOp) (*Op, error) {
	e, err := eng.live()
	if err != nil {
		return nil, err
	}
	a, err := attr(name, posts)
	if err != nil {
		return nil, err
	}
	defer C.dnnl_primitive_attr_destroy(a)
	op := &Op{name: name}
	var st C.dnnl_status_t
	onRunner(func() { st = C.dnnl_primitive_desc_create(&op.pd, desc, a, e, nil) })
	if err := check(st, name, "dnnl_primitive_desc_create"); err != nil {
		return nil, err
	}
	return op, nil
}

// biasDesc is the bias of o outputs, or none.
func biasDesc(on bool, weights Desc) (Desc, error) {
	if !on {
		return Desc{}, nil
	}
	return NewDesc(X, weights.Dims()[0])
}

// Conv creates a convolution or transposed convolution (direct algorithm,
// forward inference).
func (eng *Engine) Conv(name string, c Conv) (*Op, error) {
	if c.Src.IsZero() || c.Weights.IsZero() || c.Dst.IsZero() {
		return nil, fmt.Errorf("%s: %w: convolution without src, weights or dst", name, ErrInvalidArguments)
	}
	bias, err := biasDesc(c.Bias, c.Weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var strides, padL, padR C.dnnl_dims_t
	for i := 0; i < 2; i++ {
		strides[i] = C.dnnl_dim_t(max(1, c.Stride[i]))
		padL[i], padR[i] = C.dnnl_dim_t(c.PadL[i]), C.dnnl_dim_t(c.PadR[i])
	}
	if c.Transposed {
		var d C.dnnl_deconvolution_desc_t
		if err := check(C.dnnl_deconvolution_forward_desc_init(&d, C.dnnl_forward_inference, C.dnnl_deconvolution_direct,
			&c.Src.md, &c.Weights.md, bias.ptr(), &c.Dst.md, &strides[0], &padL[0], &padR[0]), name, "dnnl_deconvolution_forward_desc_init"); err != nil {
			return nil, err
		}
		return eng.newOp(name, C.const_dnnl_op_desc_t(&d), c.PostOps)
	}
	var d C.dnnl_convolution_desc_t
	if err := check(C.dnnl_convolution_forward_desc_init(&d, C.dnnl_forward_inference, C.dnnl_convolution_direct,
		&c.Src.md, &c.Weights.md, bias.ptr(), &c.Dst.md, &strides[0], &padL[0], &padR[0]), name, "dnnl_convolution_forward_desc_init"); err != nil {
		return nil, err
	}
	return eng.newOp(name, C.const_dnnl_op_desc_t(&d), c.PostOps)
}

// InnerProduct creates a fully connected layer (forward inference).
func (eng *Engine) InnerProduct(name string, ip InnerProduct) (*Op, error) {
	if ip.Src.IsZero() || ip.Weights.IsZero() || ip.Dst.IsZero() {
		return nil, fmt.Errorf("%s: %w: inner product without src, weights or dst", name, ErrInvalidArguments)
	}
	bias, err := biasDesc(ip.Bias, ip.Weights)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var d C.dnnl_inner_product_desc_t
	if err := check(C.dnnl_inner_product_forward_desc_init(&d, C.dnnl_forward_inference,
		&ip.Src.md, &ip.Weights.md, bias.ptr(), &ip.Dst.md), name, "dnnl_inner_product_forward_desc_init"); err != nil {
		return nil, err
	}
	return eng.newOp(name, C.const_dnnl_op_desc_t(&d), ip.PostOps)
}

// Softmax creates a softmax over axis of d, for inference: each slice
// along axis becomes exp(x - max) / sum. Src and Dst both have layout d.
func (eng *Engine) Softmax(name string, d Desc, axis int) (*Op, error) {
	if axis < 0 || axis >= int(d.md.ndims) {
		return nil, fmt.Errorf("%s: %w: softmax axis %d of %d dimensions", name, ErrInvalidArguments, axis, int(d.md.ndims))
	}
	var sd C.dnnl_softmax_desc_t
	if err := check(C.dnnl_softmax_forward_desc_init(&sd, C.dnnl_forward_inference, &d.md, C.int(axis)), name, "dnnl_softmax_forward_desc_init"); err != nil {
		return nil, err
	}
	return eng.newOp(name, C.const_dnnl_op_desc_t(&sd), nil)
}

// Resample creates a nearest-neighbour resampling from src to dst (same N
// and C; the spatial sizes give the factors; dst may be Any).
func (eng *Engine) Resample(name string, src, dst Desc) (*Op, error) {
	var d C.dnnl_resampling_desc_t
	if err := check(C.dnnl_resampling_forward_desc_init(&d, C.dnnl_forward_inference, C.dnnl_resampling_nearest,
		nil, &src.md, &dst.md), name, "dnnl_resampling_forward_desc_init"); err != nil {
		return nil, err
	}
	return eng.newOp(name, C.const_dnnl_op_desc_t(&d), nil)
}

// Reorder creates a copy from layout src to layout dst (same dimensions).
func (eng *Engine) Reorder(name string, src, dst Desc) (*Op, error) {
	e, err := eng.live()
	if err != nil {
		return nil, err
	}
	a, err := attr(name, nil)
	if err != nil {
		return nil, err
	}
	defer C.dnnl_primitive_attr_destroy(a)
	op := &Op{name: name}
	var st C.dnnl_status_t
	onRunner(func() { st = C.dnnl_reorder_primitive_desc_create(&op.pd, &src.md, e, &dst.md, e, a) })
	if err := check(st, name, "dnnl_reorder_primitive_desc_create"); err != nil {
		return nil, err
	}
	return op, nil
}

// query returns the op's descriptor for what (zero Desc when none).
func (op *Op) query(what C.dnnl_query_t, index int) Desc {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.pd == nil {
		return Desc{}
	}
	md := C.dnnl_primitive_desc_query_md(op.pd, what, C.int(index))
	if md == nil {
		return Desc{}
	}
	return Desc{md: *md}
}

// Src is the source layout oneDNN chose (or was given).
func (op *Op) Src() Desc { return op.query(C.dnnl_query_src_md, 0) }

// Weights is the weights layout.
func (op *Op) Weights() Desc { return op.query(C.dnnl_query_weights_md, 0) }

// Bias is the bias layout (zero Desc without a bias).
func (op *Op) Bias() Desc { return op.query(C.dnnl_query_weights_md, 1) }

// Scratchpad is the scratch buffer the op needs (zero Desc: none).
func (op *Op) Scratchpad() Desc {
	d := op.query(C.dnnl_query_scratchpad_md, 0)
	if d.IsZero() || d.Bytes() == 0 {
		return Desc{}
	}
	return d
}

// Dst is the destination layout.
func (op *Op) Dst() Desc { return op.query(C.dnnl_query_dst_md, 0) }

// Name is the name the op was created with.
func (op *Op) Name() string { return op.name }

// Impl names oneDNN's implementation (e.g. "jit:avx512_core"; "ref" means
// the slow reference code), for reports and tests.
func (op *Op) Impl() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.pd == nil {
		return ""
	}
	var s *C.char
	if C.dnnl_primitive_desc_query(op.pd, C.dnnl_query_impl_info_str, 0, unsafe.Pointer(&s)) != C.dnnl_success || s == nil {
		return ""
	}
	return C.GoString(s)
}

// Close frees the descriptor (Plan.Close does for the ops it owns).
// Closing twice is a no-op.
func (op *Op) Close() error {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.pd == nil {
		return nil
	}
	err := check(C.dnnl_primitive_desc_destroy(op.pd), op.name, "dnnl_primitive_desc_destroy")
	op.pd = nil
	return err
}
