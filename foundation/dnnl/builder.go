package dnnl

import (
	"errors"
	"fmt"
	"strings"
)

// Builder assembles a network's forward pass: a Plan of layers in oneDNN's
// layouts (reorders only where two layers disagree), and a Prep plan that
// moves weights from plain staging buffers, which the caller fills, into
// those layouts. The first error sticks (Err); later calls do nothing and
// return nil.
type Builder struct {
	eng        *Engine
	plan, prep *Plan
	err        error
	reordered  []reordered
}

type reordered struct{ src, dst *Memory }

// Layer is a convolution added by Builder.Conv or a fully connected layer
// added by Builder.Dense.
type Layer struct {
	Op  *Op
	Dst *Memory
	// Weights (convolutions: O, I, KH, KW; dense layers: I rows of O, the
	// x W convention) and Bias (O values; nil without a bias) are plain
	// views the caller fills; Builder.Prep's Run moves the weights into
	// the layer's layout (the bias is used in place).
	Weights, Bias []float32
}

// NewBuilder starts a network on a new engine; name labels its errors.
func NewBuilder(name string) (*Builder, error) {
	eng, err := NewEngine()
	if err != nil {
		return nil, err
	}
	b := &Builder{eng: eng}
	if b.plan, err = eng.NewPlan(name); err == nil {
		b.prep, err = eng.NewPlan(name + " weights")
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Err is the first error.
func (b *Builder) Err() error { return b.err }

// Fail records err (if it is the first).
func (b *Builder) Fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// Plan is the forward pass; Prep moves the staged weights in (run it after
// filling them, and again whenever they change).
func (b *Builder) Plan() *Plan { return b.plan }

// Prep is the weights plan.
func (b *Builder) Prep() *Plan { return b.prep }

// Memory allocates a buffer of layout d in the forward pass's plan.
func (b *Builder) Memory(name string, d Desc) *Memory {
	if b.err != nil {
		return nil
	}
	m, err := b.plan.Memory(name, d)
	b.Fail(err)
	return m
}

// View returns of's buffer seen as layout d (a NewStridedDesc, usually):
// a Copy between two views of plain buffers moves elements between
// layouts no tag names, e.g. the depth-to-space shuffle after a
// sub-pixel convolution.
func (b *Builder) View(name string, of *Memory, d Desc) *Memory {
	if b.err != nil {
		return nil
	}
	m, err := b.plan.View(name, of, d)
	b.Fail(err)
	return m
}

// Add appends op bound to args to the forward pass (closing op after an
// earlier error).
func (b *Builder) Add(op *Op, args Args) {
	if b.err != nil {
		if op != nil {
			op.Close()
		}
		return
	}
	b.Fail(b.plan.Add(op, args))
}

// As returns src in layout want: src itself, a buffer an earlier As made,
// or a new buffer a reorder fills.
func (b *Builder) As(name string, src *Memory, want Desc) *Memory {
	if b.err != nil || src.Desc().Equal(want) {
		return src
	}
	for _, r := range b.reordered {
		if r.src == src && r.dst.Desc().Equal(want) {
			return r.dst
		}
	}
	dst := b.Memory(name, want)
	if b.err != nil {
		return nil
	}
	op, err := b.eng.Reorder(name, src.Desc(), want)
	b.Fail(err)
	b.Add(op, Args{Src: src, Dst: dst})
	b.reordered = append(b.reordered, reordered{src, dst})
	return dst
}

// Conv appends convolution c reading src and writing dst (nil: a new
// buffer); c.Src need not be set. c's Src is src's layout and, when c.Dst has tag Any
// and src is channels-last, its Dst by channels-last, whenever oneDNN has
// an optimised kernel for them (so consecutive layers need no reorder);
// else oneDNN's preferred layouts are used and src reordered.
func (b *Builder) Conv(name string, c Conv, src, dst *Memory) *Layer {
	if b.err != nil {
		return nil
	}
	if dst != nil {
		c.Dst = dst.Desc()
	}
	op := b.conv(name, c, src.Desc())
	if op == nil {
		return nil
	}
	if dst == nil {
		dst = b.Memory(name, op.Dst())
	}
	in := b.As(name+" src", src, op.Src())
	return b.staged(name, op, Args{Src: in, Dst: dst}, MustDesc(OIHW, op.Weights().Dims()...))
}

// Dense appends the fully connected layer ip reading src and writing dst
// (nil: a new buffer of ip.Dst, whose tag Any lets oneDNN pick); ip.Src
// need not be set (src's layout is used). Its weights are staged as I rows
// of O values (IO), as dense layers are usually stored: y = x W + b.
func (b *Builder) Dense(name string, ip InnerProduct, src, dst *Memory) *Layer {
	if b.err != nil {
		return nil
	}
	ip.Src = src.Desc()
	if dst != nil {
		ip.Dst = dst.Desc()
	}
	op, err := b.eng.InnerProduct(name, ip)
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	if dst == nil {
		dst = b.Memory(name, op.Dst())
	}
	in := b.As(name+" src", src, op.Src())
	dims := op.Weights().Dims()
	return b.staged(name, op, Args{Src: in, Dst: dst}, MustDesc(IO, dims...))
}

// Softmax appends a softmax of src along axis into dst (src's layout; dst
// may be src: in place).
func (b *Builder) Softmax(name string, src, dst *Memory, axis int) {
	if b.err != nil {
		return
	}
	if !dst.Desc().Equal(src.Desc()) {
		b.Fail(fmt.Errorf("%s: %w: softmax from %v into %v", name, ErrInvalidArguments, src.Desc(), dst.Desc()))
		return
	}
	op, err := b.eng.Softmax(name, src.Desc(), axis)
	b.Fail(err)
	b.Add(op, Args{Src: src, Dst: dst})
}

// Copy appends a copy of src into dst (the same layout): e.g. the
// residual stream a following layer's Sum post-op adds to.
func (b *Builder) Copy(name string, src, dst *Memory) {
	if b.err != nil {
		return
	}
	op, err := b.eng.Reorder(name, src.Desc(), dst.Desc())
	b.Fail(err)
	b.Add(op, Args{Src: src, Dst: dst})
}

// staged appends op with its weights (and bias) in buffers of op's
// layouts, filled by Prep from a plain staging buffer of layout stage.
func (b *Builder) staged(name string, op *Op, args Args, stage Desc) *Layer {
	l := &Layer{Op: op, Dst: args.Dst}
	w := b.Memory(name+" weights", op.Weights())
	var bias *Memory
	if bd := op.Bias(); !bd.IsZero() {
		bias = b.Memory(name+" bias", bd)
	}
	if b.err != nil {
		op.Close()
		return nil
	}
	sm, err := b.prep.Memory(name+" weights", stage)
	if err != nil {
		op.Close()
		b.Fail(err)
		return nil
	}
	l.Weights = sm.Float32s()
	if bias != nil {
		l.Bias = bias.Float32s()
	}
	reorder, err := b.eng.Reorder(name+" weights", sm.Desc(), w.Desc())
	b.Fail(err)
	if b.err == nil {
		b.Fail(b.prep.Add(reorder, Args{Src: sm, Dst: w}))
	}
	args.Weights, args.Bias = w, bias
	b.Add(op, args)
	if b.err != nil {
		return nil
	}
	return l
}

// conv creates c, preferring the source layout have (see Conv).
func (b *Builder) conv(name string, c Conv, have Desc) *Op {
	var tries []Conv
	if dims := c.Dst.Dims(); c.Dst.Equal(MustDesc(Any, dims...)) && have.Equal(MustDesc(NHWC, have.Dims()...)) {
		t := c
		t.Src, t.Dst = have, MustDesc(NHWC, dims...)
		tries = append(tries, t)
	}
	t := c
	t.Src = have
	tries = append(tries, t)
	for _, t := range tries {
		if op, err := b.eng.Conv(name, t); err == nil {
			if !strings.HasPrefix(op.Impl(), "ref") {
				return op
			}
			op.Close()
		}
	}
	c.Src = MustDesc(Any, have.Dims()...)
	op, err := b.eng.Conv(name, c)
	if err != nil {
		b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	return op
}

// Close frees both plans and the engine. Closing twice is a no-op.
func (b *Builder) Close() error {
	var errs []error
	for _, p := range []*Plan{b.plan, b.prep} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if b.eng != nil {
		errs = append(errs, b.eng.Close())
	}
	return errors.Join(errs...)
}
