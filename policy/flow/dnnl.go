package flow

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/dnnl"
	"dreamrank/foundation/nn"
	"dreamrank/policy"
)

// dnnlEncoder is the convolutional trunk (enc1..enc3) and the spatial
// softmax through oneDNN for exactly batch pooled images
// (foundation/dnnl): one primitive per layer over the batch, bias and
// ReLU fused, oneDNN's layouts inside; the keypoint planes reordered to
// plain NCHW and each plane's softmax one row of a softmax primitive
// (the Go spatialSoftmax, a third of a chunk's CPU time at the best
// batch on its scalar exponentials, stays fastNet's); the expected
// positions are summed in Go (keypoints).
// Built once per (policy, batch size) and reused; a pass allocates
// nothing. It copies the weights when built and again when they changed
// (sync).
type dnnlEncoder struct {
	c      ModelConfig
	batch  int
	b      *dnnl.Builder
	img    []float32 // input (B, 3, inH, inW) plain, values 0..1
	probs  []float32 // the keypoint planes' softmax (B, C3, h, w) plain
	layers []encLayer
	seen   []float32 // the trunk's weights last copied in
}

// encLayer is one trunk layer's staging buffers and its parameters.
type encLayer struct {
	w, b       []float32 // the net's weights and bias
	stageW     []float32
	stageB     []float32
	name       string
	cin, cout  int
	stride     int
	relu       bool
	outH, outW int
}

// newDnnlEncoder builds the trunk for batch images with ps's weights.
func newDnnlEncoder(c ModelConfig, ps *nn.Params, batch int) (_ *dnnlEncoder, err error) {
	b, err := dnnl.NewBuilder(fmt.Sprintf("flow encoder b%d", batch))
	if err != nil {
		return nil, fmt.Errorf("flow: oneDNN: %w", err)
	}
	e := &dnnlEncoder{c: c, batch: batch, b: b}
	defer func() {
		if err != nil {
			e.Close()
			err = fmt.Errorf("flow: oneDNN encoder for batch %d: %w", batch, err)
		}
	}()
	h, w := c.inH(), c.inW()
	x := b.Memory("img", dnnl.MustDesc(dnnl.NCHW, batch, 3, h, w))
	src := x
	for _, l := range []encLayer{
		{name: "enc1", cin: 3, cout: c.C1, stride: 1, relu: true},
		{name: "enc2", cin: c.C1, cout: c.C2, stride: 2, relu: true},
		{name: "enc3", cin: c.C2, cout: c.C3, stride: 1},
	} {
		wp, bp := ps.Get(l.name+".w"), ps.Get(l.name+".b")
		if wp == nil || bp == nil {
			return nil, fmt.Errorf("no parameters for %s", l.name)
		}
		l.w, l.b = wp.Data(), bp.Data()
		k := wp.Shape[len(wp.Shape)-1]
		pad := k / 2
		l.outH, l.outW = (h+2*pad-k)/l.stride+1, (w+2*pad-k)/l.stride+1
		var posts []dnnl.PostOp
		if l.relu {
			posts = append(posts, dnnl.ReLU(0))
		}
		layer := b.Conv(l.name, dnnl.Conv{
			Weights: dnnl.MustDesc(dnnl.Any, l.cout, l.cin, k, k),
			Dst:     dnnl.MustDesc(dnnl.Any, batch, l.cout, l.outH, l.outW),
			Bias:    true, Stride: [2]int{l.stride, l.stride},
			PadL: [2]int{pad, pad}, PadR: [2]int{pad, pad}, PostOps: posts,
		}, src, nil)
		if layer == nil {
			return nil, b.Err()
		}
		if len(layer.Weights) != len(l.w) || len(layer.Bias) != len(l.b) {
			return nil, fmt.Errorf("%s: %d weights and %d biases for a %v layer", l.name, len(l.w), len(l.b), layer.Op.Weights())
		}
		l.stageW, l.stageB = layer.Weights, layer.Bias
		e.layers = append(e.layers, l)
		src, h, w = layer.Dst, l.outH, l.outW
	}
	probs := e.keypointLayers(src, h, w)
	if err := b.Err(); err != nil {
		return nil, err
	}
	e.img, e.probs = x.Float32s(), probs.Float32s()
	if err := e.sync(); err != nil {
		return nil, err
	}
	return e, nil
}

// sync copies the trunk's weights in when they changed since the last
// copy (some 20k floats compared per call).
func (e *dnnlEncoder) sync() error {
	same, off := e.seen != nil, 0
	for _, l := range e.layers {
		for _, v := range [][]float32{l.w, l.b} {
			if same && !slices.Equal(v, e.seen[off:off+len(v)]) {
				same = false
			}
			off += len(v)
		}
	}
	if same {
		return nil
	}
	e.seen = e.seen[:0]
	for _, l := range e.layers {
		e.seen = append(append(e.seen, l.w...), l.b...)
		copy(l.stageW, l.w)
		copy(l.stageB, l.b)
	}
	return e.b.Prep().Run()
}

// forward runs the trunk and the spatial softmax on the images in img
// into probs.
func (e *dnnlEncoder) forward() error { return e.b.Plan().Run() }

// keypointLayers appends the spatial softmax of the keypoint planes src
// (batch, C3, h, w), in place, and returns the planes' buffer, each now
// a distribution over its pixels.
func (e *dnnlEncoder) keypointLayers(src *dnnl.Memory, h, w int) *dnnl.Memory {
	b := e.b
	planes := b.As("keypoint planes", src, dnnl.MustDesc(dnnl.NCHW, e.batch, e.c.C3, h, w))
	if b.Err() != nil {
		return nil
	}
	flat := b.View("keypoint rows", planes, dnnl.MustDesc(dnnl.NC, e.batch*e.c.C3, h*w))
	b.Softmax("spatial softmax", flat, flat, 1)
	return planes
}

// keypoints writes image j's observation feature without the proprio
// (2*C3 values) into dst: each plane's expected position (x, y in
// [-1, 1]) under its softmax. In Go, not as an inner product on
// oneDNN: with AVX2 kernels oneDNN's sums over the pixels came out in
// another order for 3 images than for 1 (1 ulp), and an image's
// features must not depend on what it is batched with.
func (e *dnnlEncoder) keypoints(dst []float32, j int) {
	l := e.layers[len(e.layers)-1]
	h, w, n := l.outH, l.outW, l.outH*l.outW
	sx, sy := float32(2)/float32(w), float32(2)/float32(h)
	for ch := range e.c.C3 {
		p := e.probs[(j*e.c.C3+ch)*n:][:n]
		var ex, ey float32
		for y := range h {
			row := p[y*w:][:w]
			var rowSum, rowX float32
			for x, v := range row {
				rowSum += v
				rowX += v * ((float32(x)+0.5)*sx - 1)
			}
			ex += rowX
			ey += rowSum * ((float32(y)+0.5)*sy - 1)
		}
		dst[2*ch], dst[2*ch+1] = ex, ey
	}
}

// Close frees the oneDNN resources; closing twice is a no-op.
func (e *dnnlEncoder) Close() error {
	e.img, e.probs = nil, nil
	return e.b.Close()
}

// maxDnnlBatch is the most images one oneDNN encoder pass takes (each pass
// runs on one core; small groups keep a group's activations in its
// caches). Measured (BenchmarkEncoder, busy machine), CPU ms per image of
// groups of 1: 0.48, 2: 0.44, 4: 0.41, 8: 0.55 (the fast pass: 1.5-2.2).
const maxDnnlBatch = 4

// dnnlPool holds a policy's idle oneDNN networks (pixel encoders by
// batch size, heads by rows), and why oneDNN was given up for them
// (default mode), for good.
type dnnlPool[T interface{ Close() error }] struct {
	dnnl.Pool[T]
	mu  sync.Mutex
	err error
}

func (pool *dnnlPool[T]) givenUp() error {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.err
}

func (pool *dnnlPool[T]) giveUp(err error) {
	pool.mu.Lock()
	pool.err = err
	pool.mu.Unlock()
}

// dnnlUnavailable is an encoding that did nothing because no oneDNN
// encoder could be had.
type dnnlUnavailable struct{ err error }

func (e *dnnlUnavailable) Error() string { return e.err.Error() }
func (e *dnnlUnavailable) Unwrap() error { return e.err }

func (p *Policy) acquireDnnl(b int) (*dnnlEncoder, error) {
	if err := p.dnnl.givenUp(); err != nil {
		return nil, err
	}
	e, ok, err := p.dnnl.Get(b)
	if err != nil {
		return nil, errors.New("flow: policy closed")
	}
	if !ok {
		e, err := newDnnlEncoder(p.cfg, p.ps, b)
		if err != nil && p.Inference == "" {
			p.dnnl.giveUp(err)
		}
		return e, err
	}
	if err := e.sync(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (p *Policy) releaseDnnl(e *dnnlEncoder) { p.dnnl.Put(e.batch, e) }

// Close frees the idle oneDNN encoders and heads; later calls run on the
// fast pass. Closing twice is a no-op.
func (p *Policy) Close() error { return errors.Join(p.dnnl.Close(), p.heads.Close()) }

// encodeDnnl writes the observation features of obs into feat (obsDim
// each) through oneDNN encoders: groups of up to maxDnnlBatch images,
// stepped concurrently on dnnl.Runners goroutines. It returns a
// *dnnlUnavailable, having written nothing, when no encoder can be had.
func (p *Policy) encodeDnnl(feat []float32, obs []policy.Observation) error {
	c := p.cfg
	n, od := len(obs), c.obsDim()
	runners := dnnl.Runners()
	g := max(min(n, runners), (n+maxDnnlBatch-1)/maxDnnlBatch)
	encs := make([]*dnnlEncoder, 0, g)
	defer func() {
		for _, e := range encs {
			p.releaseDnnl(e)
		}
	}()
	for i := 0; i < g; i++ {
		e, err := p.acquireDnnl((i+1)*n/g - i*n/g)
		if err != nil {
			return &dnnlUnavailable{err}
		}
		encs = append(encs, e)
	}
	errs := make([]error, g)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runners, g) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := 3 * c.inH() * c.inW()
			pooled := make([]uint8, in)
			for i := int(next.Add(1)) - 1; i < g; i = int(next.Add(1)) - 1 {
				e, first := encs[i], i*n/g
				for j := range e.batch {
					poolFrame(pooled, obs[first+j].Image, c.FrameH, c.FrameW, c.Pool)
					bytesToUnit(e.img[j*in:(j+1)*in], pooled)
				}
				if errs[i] = e.forward(); errs[i] != nil {
					continue
				}
				for j := range e.batch {
					dst := feat[(first+j)*od : (first+j+1)*od]
					e.keypoints(dst, j)
					for k, v := range obs[first+j].Proprio {
						dst[2*c.C3+k] = c.norm(v)
					}
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// inferenceName names the pixel encoder's forward pass Act uses now.
func (p *Policy) inferenceName() string {
	if p.Inference == "fast" {
		return "fast"
	}
	if p.Inference == "" && (p.dnnl.givenUp() != nil || p.dnnl.Closed()) {
		return "fast"
	}
	return "dnnl"
}
