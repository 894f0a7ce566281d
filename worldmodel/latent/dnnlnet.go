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
// oneDNN picks; reorders only where two primitives want different ones,
// and for the weights (once). The edges are channels-last (NHWC), the
// layout of the frames' bytes, so Go writes the input and reads the
// output pixel by pixel and oneDNN's channels-last kernels need no
// reorder there.
//
// Two rewrites keep it from materialising tensors the graph builds:
//   - A convolution of a concatenation [a, b] is conv_a(a) + conv_b(b), the
//     second accumulating into the first's output (a sum post-op), with the
//     weights split by input channel.
//   - A 3x3 convolution of a nearest 2x upsampling up2(x) is a sub-pixel
//     convolution: one 3x3 convolution of x itself, at x's resolution,
//     with 4x the output channels, one group per output pixel's phase
//     (row and column parity), whose taps are sums of the 3x3 taps
//     (phaseTaps); a reorder between two strided views then shuffles
//     depth to space into the layer's (channels-last) output. No
//     upsampled tensor, the nominal multiply-adds, and output channels in
//     multiples of 16 where the layer has 12. Summing taps first rounds
//     differently, well within the tolerance the passes are held to.
//     Measured on one core (oneDNN 2.6, AVX-512, batch 1 and 2), the
//     full-resolution decoder layer's upsampled input: 0.28 ms for the
//     sub-pixel convolution plus 0.01 for the shuffle, against 0.48 for
//     the transposed 4x4 convolution this replaced (oneDNN pads its 12
//     output channels to 16 and runs it at 15 GMAC/s) and about 0.5 for
//     nearest resampling plus the 3x3 convolution.
//
// Its primitives and buffers are made once per (model, batch size) and
// reused; a step allocates nothing. It copies the weights when built and
// again whenever they changed (sync, called by every Step), so it sees
// the net's current weights as the fast pass does.
type dnnlNet struct {
	n     *net
	batch int
	b     *dnnl.Builder // its Plan is one forward pass, its Prep the weights
	plan  *dnnl.Plan

	x0   []float32 // input (B, H, W, 6) channels last: rgb then the agent planes
	y    []float32 // the output layer's result (B, H, W, 3), bias added
	gate []float32 // (B, H*W), Go memory: only Go reads it
	disc []float32 // (B, numPlanes, H*W): the agent planes before interleaving

	// staging: per weight tensor its plain buffers and how to fill them
	// from the net's parameters.
	staging []stagedWeights
	params  [][]float32 // the net's parameters' data (net order; tensor
	// Data boxes a slice in an interface: an allocation per call)
	seen []float32 // the weights last copied in (all of them, net order)
}

// stagedWeights fills one primitive's plain weights buffer from a conv's
// (out, in, k, k) weights, input channels [c0, c0+cin); up: as the
// sub-pixel convolution (4*out, cin, 3, 3) of the 3x3 one after a 2x
// upsampling. The bias, when there is one, is repeated for each phase.
type stagedWeights struct {
	conv    string
	c0, cin int
	up      bool
	w, b    []float32 // views of the staging buffer and the bias (b nil: no bias)
}

// phaseTaps[a][t] are the 3x3 kernel rows (or columns) that make tap t of
// the sub-pixel kernel for output rows of parity a: output row Y = 2i + a
// of the 3x3 convolution of up2(x) reads up2 row Y-1+ky, which is x row
// i + (a-1+ky) div 2 (floored): row offset t-1 for the ky listed.
var phaseTaps = [2][3][]int{{{0}, {1, 2}, nil}, {nil, {0, 1}, {2}}}

// convIn is one input of a convolution: src (channels [c0, c0+cin) of the
// layer's weights), upsampled 2x first when up.
type convIn struct {
	src     *dnnl.Memory
	c0, cin int
	up      bool
}

// conv appends layer name reading ins (summed: the concatenation of its
// inputs), writing dst (nil: a new buffer in oneDNN's layout, channels
// last when an input is upsampled), fusing the bias, residual (dst's
// contents added) and leaky ReLU as asked. An upsampled input must come
// first, in a layer without a residual. It returns dst.
func (d *dnnlNet) conv(name string, ins []convIn, dst *dnnl.Memory, residual, leaky bool) *dnnl.Memory {
	if d.b.Err() != nil {
		return nil
	}
	spec, g := d.spec(name)
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
		c := dnnl.Conv{
			Weights: dnnl.MustDesc(dnnl.Any, spec.out, in.cin, spec.k, spec.k),
			Dst:     dnnl.MustDesc(dnnl.Any, d.batch, spec.out, oh, ow),
			Bias:    i == 0, Stride: [2]int{g.stride, g.stride},
			PadL: [2]int{g.pad, g.pad}, PadR: [2]int{g.pad, g.pad},
			PostOps: posts,
		}
		var l *dnnl.Layer
		if in.up {
			if i > 0 || residual || spec.k != 3 || g.stride != 1 {
				d.b.Fail(fmt.Errorf("%s: an upsampled input must be the first of a 3x3, stride-1 layer without a residual", part))
				return nil
			}
			if dst == nil {
				if dst = d.b.Memory(name, dnnl.MustDesc(dnnl.NHWC, d.batch, spec.out, oh, ow)); dst == nil {
					return nil
				}
			}
			l = d.subPixel(part, c, in.src, dst)
		} else {
			l = d.b.Conv(part, c, in.src, dst)
		}
		if l == nil {
			return nil
		}
		dst = l.Dst
		d.staging = append(d.staging, stagedWeights{conv: name, c0: in.c0, cin: in.cin, up: in.up, w: l.Weights, b: l.Bias})
	}
	return dst
}

// subPixel appends c (a 3x3 convolution of src upsampled 2x, writing the
// channels-last dst) as the sub-pixel convolution of src into a buffer
// of 4x the channels and the depth-to-space shuffle into dst. The layer
// it returns has dst as its Dst. c's post-ops may be only the leaky ReLU,
// which commutes with the shuffle.
func (d *dnnlNet) subPixel(name string, c dnnl.Conv, src, dst *dnnl.Memory) *dnnl.Layer {
	dims := dst.Desc().Dims() // n, out, 2h, 2w
	n, out, h, w := dims[0], dims[1], dims[2]/2, dims[3]/2
	c.Weights = dnnl.MustDesc(dnnl.Any, 4*out, c.Weights.Dims()[1], 3, 3)
	z := d.b.Memory(name+" phases", dnnl.MustDesc(dnnl.NHWC, n, 4*out, h, w))
	l := d.b.Conv(name, c, src, z)
	if l == nil {
		return nil
	}
	// (n, row phase, column phase, channel, i, j) in both buffers.
	shape := []int{n, 2, 2, out, h, w}
	from, err1 := dnnl.NewStridedDesc(shape, []int{h * w * 4 * out, 2 * out, out, 1, w * 4 * out, 4 * out})
	to, err2 := dnnl.NewStridedDesc(shape, []int{4 * h * w * out, 2 * w * out, out, 1, 4 * w * out, 2 * out})
	if err := errors.Join(err1, err2); err != nil {
		d.b.Fail(fmt.Errorf("%s: %w", name, err))
		return nil
	}
	d.b.Copy(name+" shuffle", d.b.View(name+" phases 6d", z, from), d.b.View(name+" 6d", dst, to))
	l.Dst = dst
	return l
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
	b, err := dnnl.NewBuilder(fmt.Sprintf("latent b%d", batch))
	if err != nil {
		return nil, fmt.Errorf("latent: oneDNN: %w", err)
	}
	d := &dnnlNet{n: n, batch: batch, b: b, plan: b.Plan(), gate: make([]float32, batch*h*w), disc: make([]float32, batch*numPlanes*h*w)}
	for _, p := range n.params {
		d.params = append(d.params, p.t.Data().([]float32))
	}
	defer func() {
		if err != nil {
			d.Close()
			err = fmt.Errorf("latent: oneDNN forward pass for batch %d: %w", batch, err)
		}
	}()
	x0 := b.Memory("x0", dnnl.MustDesc(dnnl.NHWC, batch, inChannels, h, w))
	e1 := d.conv("enc1", []convIn{{src: x0, cin: inChannels}}, nil, false, true)
	hs := d.conv("enc2", []convIn{{src: e1, cin: cfg.C1}}, nil, false, true)
	for i := 0; i < cfg.Blocks; i++ {
		a := d.conv(fmt.Sprintf("res%da", i), []convIn{{src: hs, cin: cfg.C2}}, nil, false, true)
		d.conv(fmt.Sprintf("res%db", i), []convIn{{src: a, cin: cfg.C2}}, hs, true, true)
	}
	d1 := d.conv("dec1", []convIn{{src: hs, cin: cfg.C2, up: true}, {src: e1, c0: cfg.C2, cin: cfg.C1}}, nil, false, true)
	d0 := d.conv("dec0", []convIn{{src: d1, cin: cfg.C1, up: true}, {src: x0, c0: cfg.C1, cin: inChannels}}, nil, false, true)
	yPlain := b.Memory("y", dnnl.MustDesc(dnnl.NHWC, batch, 3, h, w))
	// The output layer writes the plain buffer Go reads (where oneDNN has
	// no kernel for that, the build fails and the default mode falls back
	// to the fast pass).
	d.conv("out", []convIn{{src: d0, cin: cfg.CD}}, yPlain, false, false)
	if err := b.Err(); err != nil {
		return nil, err
	}
	d.x0, d.y = x0.Float32s(), yPlain.Float32s()
	if err := d.sync(); err != nil {
		return nil, err
	}
	return d, nil
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
			for c := 0; c < s.cin; c++ {
				src := wt[(o*spec.in+s.c0+c)*kk:][:kk]
				if !s.up {
					copy(s.w[(o*s.cin+c)*kk:][:kk], src)
					continue
				}
				for ph := 0; ph < 4; ph++ {
					subPixelTaps(s.w[((ph*spec.out+o)*s.cin+c)*9:][:9], src, ph/2, ph%2)
				}
			}
		}
		if s.b != nil {
			bias := d.n.byName[s.conv+".b"].t.Data().([]float32)
			for off := 0; off < len(s.b); off += len(bias) {
				copy(s.b[off:], bias)
			}
		}
	}
	return d.b.Prep().Run()
}

// subPixelTaps writes into dst the 3x3 sub-pixel kernel for output pixels
// of row parity a and column parity b from the 3x3 kernel src.
func subPixelTaps(dst, src []float32, a, b int) {
	for ty, rows := range phaseTaps[a] {
		for tx, cols := range phaseTaps[b] {
			v := float32(0)
			for _, ky := range rows {
				for _, kx := range cols {
					v += src[ky*3+kx]
				}
			}
			dst[ty*3+tx] = v
		}
	}
}

// forward runs the network on the inputs in x0 (and gate, read later by
// the caller) into y.
func (d *dnnlNet) forward() error { return d.plan.Run() }

// Close frees the oneDNN resources; closing twice is a no-op.
func (d *dnnlNet) Close() error {
	d.x0, d.y = nil, nil
	return d.b.Close()
}
