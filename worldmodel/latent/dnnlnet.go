package latent

import (
	"errors"
	"fmt"
	"slices"

	"dreamrank/foundation/dnnl"
)

// dnnlNet is the inference-only forward pass through oneDNN for exactly
// batch episodes (foundation/dnnl): the same network as fastNet and the
// graph, each convolution one oneDNN primitive over the whole batch with
// bias, leaky ReLU and residual adds fused (post-ops), in the layouts
// oneDNN picks; reorders only at the edges (the plain NCHW input and
// output, and the weights, reordered once). Channel concatenations are
// not materialised: a convolution of [a, b] is conv_a(a) + conv_b(b), the
// second accumulating into the first's output (a sum post-op), with the
// weights split by input channel. Nearest upsampling is oneDNN's
// resampling, written in the layout the next convolution reads.
//
// Its primitives and buffers are made once per (model, batch size) and
// reused; a step allocates nothing. It copies the weights when built and
// again whenever they changed (sync, called by every Step), so it sees
// the net's current weights as the fast pass does.
type dnnlNet struct {
	n     *net
	batch int
	eng   *dnnl.Engine
	plan  *dnnl.Plan // one forward pass
	prep  *dnnl.Plan // weights: plain staging buffers to oneDNN's layouts

	x0   []float32 // input (B, 6, H, W) plain: rgb then the agent planes
	y    []float32 // the output layer's result (B, 3, H, W) plain, bias added
	gate []float32 // (B, H*W), Go memory: only Go reads it

	// staging: per weight tensor its plain buffers and how to fill them
	// from the net's parameters.
	staging []stagedWeights
	params  [][]float32 // the net's parameters' data (net order; tensor
	// Data boxes a slice in an interface: an allocation per call)
	seen []float32 // the weights last copied in (all of them, net order)
}

// stagedWeights fills one primitive's plain weights buffer from a conv's
// (out, in, k, k) weights, input channels [c0, c0+cin).
type stagedWeights struct {
	conv    string
	c0, cin int
	w, b    []float32 // views of the staging buffer and the bias (b nil: no bias)
}

// dnnlBuilder accumulates the plan; the first error sticks.
type dnnlBuilder struct {
	d   *dnnlNet
	err error
	// reordered are the reorders made so far, reused by later layers
	// reading the same buffer in the same layout (x0 feeds enc1 and dec0).
	reordered []reordered
}

type reordered struct{ src, dst *dnnl.Memory }

func (b *dnnlBuilder) fail(err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
}

// mem allocates a plan buffer of layout d.
func (b *dnnlBuilder) mem(name string, d dnnl.Desc) *dnnl.Memory {
	if b.err != nil {
		return nil
	}
	m, err := b.d.plan.Memory(name, d)
	b.fail(err)
	return m
}

// add appends op bound to args.
func (b *dnnlBuilder) add(op *dnnl.Op, args dnnl.Args) {
	if b.err != nil {
		if op != nil {
			op.Close()
		}
		return
	}
	b.fail(b.d.plan.Add(op, args))
}

// as returns src in layout want: src itself, or a buffer a reorder fills.
func (b *dnnlBuilder) as(name string, src *dnnl.Memory, want dnnl.Desc) *dnnl.Memory {
	if b.err != nil || src.Desc().Equal(want) {
		return src
	}
	for _, r := range b.reordered {
		if r.src == src && r.dst.Desc().Equal(want) {
			return r.dst
		}
	}
	dst := b.mem(name, want)
	if b.err != nil {
		return nil
	}
	op, err := b.d.eng.Reorder(name, src.Desc(), want)
	b.fail(err)
	b.add(op, dnnl.Args{Src: src, Dst: dst})
	b.reordered = append(b.reordered, reordered{src, dst})
	return dst
}

// convIn is one input of a convolution: src (channels [c0, c0+cin) of the
// layer's weights).
type convIn struct {
	src     *dnnl.Memory
	c0, cin int
}

// conv appends layer name reading ins (summed: the concatenation of its
// inputs), writing dst (nil: a new buffer in oneDNN's layout), fusing the
// bias, residual (dst's contents added) and leaky ReLU as asked. It
// returns dst.
func (b *dnnlBuilder) conv(name string, ins []convIn, dst *dnnl.Memory, residual, leaky bool) *dnnl.Memory {
	if b.err != nil {
		return nil
	}
	spec, g := b.d.spec(name)
	oh, ow := g.outHW()
	for i, in := range ins {
		part := fmt.Sprintf("%s[%d:%d]", name, in.c0, in.c0+in.cin)
		var posts []dnnl.PostOp
		if i > 0 || residual {
			posts = append(posts, dnnl.Sum(1))
		}
		if i == len(ins)-1 && leaky {
			posts = append(posts, dnnl.ReLU(leak))
		}
		dstDesc := dnnl.MustDesc(dnnl.Any, b.d.batch, spec.out, oh, ow)
		if dst != nil {
			dstDesc = dst.Desc()
		}
		op, err := b.d.eng.Conv(part, dnnl.Conv{
			Src:     dnnl.MustDesc(dnnl.Any, b.d.batch, in.cin, g.h, g.w),
			Weights: dnnl.MustDesc(dnnl.Any, spec.out, in.cin, spec.k, spec.k),
			Dst:     dstDesc,
			Bias:    i == 0, Stride: [2]int{g.stride, g.stride},
			PadL: [2]int{g.pad, g.pad}, PadR: [2]int{g.pad, g.pad},
			PostOps: posts,
		})
		if err != nil {
			b.fail(fmt.Errorf("%s: %w", part, err))
			return nil
		}
		if dst == nil {
			dst = b.mem(name, op.Dst())
		}
		src := b.as(part+" src", in.src, op.Src())
		w, bias := b.weights(part, spec, in.c0, in.cin, op)
		b.add(op, dnnl.Args{Src: src, Weights: w, Bias: bias, Dst: dst})
	}
	return dst
}

// weights makes op's weights buffer (and bias buffer when it has one),
// filled by the prep plan from a plain staging buffer.
func (b *dnnlBuilder) weights(part string, spec convSpec, c0, cin int, op *dnnl.Op) (w, bias *dnnl.Memory) {
	if b.err != nil {
		return nil, nil
	}
	d := b.d
	w = b.mem(part+" weights", op.Weights())
	stage, err := d.prep.Memory(part+" weights", dnnl.MustDesc(dnnl.OIHW, spec.out, cin, spec.k, spec.k))
	b.fail(err)
	if b.err != nil {
		return nil, nil
	}
	s := stagedWeights{conv: spec.name, c0: c0, cin: cin, w: stage.Float32s()}
	if bd := op.Bias(); !bd.IsZero() {
		// Bias buffers are plain already (layout X): written in place.
		bias = b.mem(part+" bias", bd)
		if b.err != nil {
			return nil, nil
		}
		s.b = bias.Float32s()
	}
	reorder, err := d.eng.Reorder(part+" weights", stage.Desc(), w.Desc())
	b.fail(err)
	if b.err == nil {
		b.fail(d.prep.Add(reorder, dnnl.Args{Src: stage, Dst: w}))
	}
	d.staging = append(d.staging, s)
	return w, bias
}

// spec returns conv name's spec and geometry.
func (d *dnnlNet) spec(name string) (convSpec, convGeom) {
	for _, c := range d.n.convs {
		if c.name == name {
			return c, (&fastNet{n: d.n}).geom(c)
		}
	}
	panic("latent: no conv " + name)
}

// newDnnlNet builds the forward pass for batch episodes.
func newDnnlNet(n *net, batch int) (_ *dnnlNet, err error) {
	cfg := n.cfg
	h, w := cfg.FrameH, cfg.FrameW
	eng, err := dnnl.NewEngine()
	if err != nil {
		return nil, fmt.Errorf("latent: oneDNN: %w", err)
	}
	d := &dnnlNet{n: n, batch: batch, eng: eng, gate: make([]float32, batch*h*w)}
	for _, p := range n.params {
		d.params = append(d.params, p.t.Data().([]float32))
	}
	defer func() {
		if err != nil {
			d.Close()
			err = fmt.Errorf("latent: oneDNN forward pass for batch %d: %w", batch, err)
		}
	}()
	if d.plan, err = eng.NewPlan(fmt.Sprintf("latent b%d", batch)); err != nil {
		return nil, err
	}
	if d.prep, err = eng.NewPlan(fmt.Sprintf("latent weights b%d", batch)); err != nil {
		return nil, err
	}
	b := &dnnlBuilder{d: d}
	x0 := b.mem("x0", dnnl.MustDesc(dnnl.NCHW, batch, inChannels, h, w))
	e1 := b.conv("enc1", []convIn{{x0, 0, inChannels}}, nil, false, true)
	hs := b.conv("enc2", []convIn{{e1, 0, cfg.C1}}, nil, false, true)
	for i := 0; i < cfg.Blocks; i++ {
		a := b.conv(fmt.Sprintf("res%da", i), []convIn{{hs, 0, cfg.C2}}, nil, false, true)
		b.conv(fmt.Sprintf("res%db", i), []convIn{{a, 0, cfg.C2}}, hs, true, true)
	}
	up1 := b.up("up1", hs, cfg.C2, h/2, w/2)
	d1 := b.conv("dec1", []convIn{{up1, 0, cfg.C2}, {e1, cfg.C2, cfg.C1}}, nil, false, true)
	up0 := b.up("up0", d1, cfg.C1, h, w)
	d0 := b.conv("dec0", []convIn{{up0, 0, cfg.C1}, {x0, cfg.C1, inChannels}}, nil, false, true)
	y := b.conv("out", []convIn{{d0, 0, cfg.CD}}, nil, false, false)
	yPlain := b.mem("y", dnnl.MustDesc(dnnl.NCHW, batch, 3, h, w))
	if b.err == nil && !y.Desc().Equal(yPlain.Desc()) {
		op, err := eng.Reorder("y", y.Desc(), yPlain.Desc())
		b.fail(err)
		b.add(op, dnnl.Args{Src: y, Dst: yPlain})
	}
	if b.err != nil {
		return nil, b.err
	}
	d.x0, d.y = x0.Float32s(), yPlain.Float32s()
	if err := d.sync(); err != nil {
		return nil, err
	}
	return d, nil
}

// up appends a nearest 2x upsampling of src (c channels) to h x w, in
// the layout oneDNN picks (the next convolution reorders if it must).
func (b *dnnlBuilder) up(name string, src *dnnl.Memory, c, h, w int) *dnnl.Memory {
	if b.err != nil {
		return nil
	}
	op, err := b.d.eng.Resample(name, src.Desc(), dnnl.MustDesc(dnnl.Any, b.d.batch, c, h, w))
	if err != nil {
		b.fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	dst := b.mem(name, op.Dst())
	b.add(op, dnnl.Args{Src: src, Dst: dst})
	return dst
}

// sync copies the net's weights in when they changed since the last copy
// (a comparison of some 70k floats, microseconds, once per Step call).
func (d *dnnlNet) sync() error {
	same := d.seen != nil
	off := 0
	for _, v := range d.params {
		if same && !slices.Equal(v, d.seen[off:off+len(v)]) {
			same = false
		}
		off += len(v)
	}
	if same {
		return nil
	}
	d.seen = d.seen[:0]
	for _, v := range d.params {
		d.seen = append(d.seen, v...)
	}
	for _, s := range d.staging {
		spec, _ := d.spec(s.conv)
		wt := d.n.byName[s.conv+".w"].t.Data().([]float32)
		kk := spec.k * spec.k
		for o := 0; o < spec.out; o++ {
			copy(s.w[o*s.cin*kk:(o+1)*s.cin*kk], wt[(o*spec.in+s.c0)*kk:])
		}
		if s.b != nil {
			copy(s.b, d.n.byName[s.conv+".b"].t.Data().([]float32))
		}
	}
	return d.prep.Run()
}

// forward runs the network on the inputs in x0 (and gate, read later by
// the caller) into y.
func (d *dnnlNet) forward() error { return d.plan.Run() }

// Close frees the oneDNN resources; closing twice is a no-op.
func (d *dnnlNet) Close() error {
	var errs []error
	for _, p := range []*dnnl.Plan{d.plan, d.prep} {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	if d.eng != nil {
		errs = append(errs, d.eng.Close())
	}
	d.x0, d.y = nil, nil
	return errors.Join(errs...)
}
