package latent

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// fastNet is the inference-only forward pass of the network for up to cap
// episodes at once, without gorgonia: every convolution is im2col plus one
// OpenBLAS sgemm per tile of output rows across the batch, with bias and
// activation fused into one pass over the tile the gemm just wrote (see
// fastconv.go for the layout). Its buffers are allocated once and reused
// for every step; it reads the weights from the net's tensors at every
// step, so it always sees the current weights.
//
// It computes what graphNet.step computes, in the same order of operations
// except inside the matrix products (OpenBLAS's kernels, not gonum's), so
// predictions agree with the graph's to float32 rounding.
type fastNet struct {
	n     *net
	cap   int // episodes the buffers hold
	batch int // episodes of the current step (<= cap)

	// Activations, channel-major over the batch (fastconv.go).
	cat0 planes // full size: [up2(d1) C1 | rgb 3 | agent planes numPlanes]
	cat1 planes // half size: [up2(h) C2 | e1 C1]
	hb   planes // quarter size: the residual stream h
	ab   planes // quarter size: inside a residual block
	rb   planes // quarter size: a residual branch's output before the add
	d1   planes // half size
	d0   planes // full size
	pred planes // full size, 3 channels: the predicted frame (0..1)
	gate []float32
	cols [][]float32 // per worker: the columns of one tile
}

// tileFloats bounds the columns matrix of one gemm (floats): the batch's
// output rows are cut into tiles whose columns (256 KiB) stay in L2 from
// im2col to the gemm's packing, instead of one matrix per layer (at batch
// 32 the full-resolution layer's would be 230 MB, written and read through
// DRAM). Measured in CPU time per frame at batch 8: 2^16 floats beat 2^15
// by 10% and 2^18 by 20%; 2^20 was 40% slower.
const tileFloats = 1 << 16

func newFastNet(n *net, capacity int) *fastNet {
	f := &fastNet{n: n}
	f.grow(capacity)
	return f
}

// grow makes the buffers hold capacity episodes (they never shrink).
func (f *fastNet) grow(capacity int) {
	if capacity <= f.cap {
		return
	}
	cfg := f.n.cfg
	h, w := cfg.FrameH, cfg.FrameW
	mk := func(c, h, w int) planes {
		return planes{data: make([]float32, c*capacity*h*w), ld: capacity * h * w, h: h, w: w}
	}
	f.cat0 = mk(cfg.C1+inChannels, h, w)
	f.cat1 = mk(cfg.C2+cfg.C1, h/2, w/2)
	f.hb, f.ab, f.rb = mk(cfg.C2, h/4, w/4), mk(cfg.C2, h/4, w/4), mk(cfg.C2, h/4, w/4)
	f.d1 = mk(cfg.C1, h/2, w/2)
	f.d0 = mk(cfg.CD, h, w)
	f.pred = mk(3, h, w)
	f.gate = make([]float32, capacity*h*w)
	maxCol := 0
	for _, c := range f.n.convs {
		g := f.geom(c)
		_, ow := g.outHW()
		maxCol = max(maxCol, g.kdim()*ow*f.tileRows(g))
	}
	f.cols = make([][]float32, runtime.GOMAXPROCS(0))
	for i := range f.cols {
		f.cols[i] = make([]float32, maxCol)
	}
	f.cap = capacity
}

// setBatch sets the number of episodes of the next forward pass: the
// planes' length follows it, so the gemms span exactly the batch.
func (f *fastNet) setBatch(b int) {
	f.grow(b)
	f.batch = b
	for _, p := range []*planes{&f.cat0, &f.cat1, &f.hb, &f.ab, &f.rb, &f.d1, &f.d0, &f.pred} {
		p.ld = b * p.h * p.w
	}
}

// geom is the geometry of conv c in this network (input size by layer).
func (f *fastNet) geom(c convSpec) convGeom {
	cfg := f.n.cfg
	d := 4 // residual blocks
	switch c.name {
	case "enc1", "dec0", "out":
		d = 1
	case "enc2", "dec1":
		d = 2
	}
	return convGeom{cin: c.in, cout: c.out, k: c.k, stride: c.str, pad: c.k / 2, h: cfg.FrameH / d, w: cfg.FrameW / d}
}

// tileRows is how many output rows (over the batch) one gemm covers: the
// most that fit tileFloats and divide an image's output rows. It depends
// only on the layer, and tiles never straddle two images, so an episode's
// values come from gemms of the same shapes, at the same offsets within
// its image, whatever the batch: batch invariance holds bit for bit by
// construction. Why it must: OpenBLAS computes a gemm's last, partial
// panel of columns with other micro-kernels (another order of the K sums,
// 1e-7 apart in float32), so a tile cut short at the batch's end (Haswell
// kernels, issue 17) gave an episode other values alone than in a batch.
func (f *fastNet) tileRows(g convGeom) int {
	oh, ow := g.outHW()
	step := max(1, min(oh, tileFloats/(g.kdim()*ow)))
	for oh%step != 0 {
		step--
	}
	return step
}

// epilogue is what follows a layer's gemm on the tile it wrote.
type epilogue int

const (
	epiLeaky    epilogue = iota // lrelu(y + bias)
	epiResidual                 // h = lrelu(h + (y + bias)), h = hb
	epiOutput                   // pred = rgb + (y + bias) * gate
)

// conv runs layer name from src channels [c0, ...) into dst channels
// [d0, d0+out) and applies epi.
func (f *fastNet) conv(name string, src planes, c0 int, dst planes, d0 int, epi epilogue) error {
	var spec convSpec
	for _, c := range f.n.convs {
		if c.name == name {
			spec = c
		}
	}
	g := f.geom(spec)
	wt := f.n.byName[name+".w"].t.Data().([]float32)
	bias := f.n.byName[name+".b"].t.Data().([]float32)
	if err := checkConv(name, g, wt, bias); err != nil {
		return err
	}
	oh, ow := g.outHW()
	if oh != dst.h || ow != dst.w {
		return fmt.Errorf("latent: %s: output %dx%d into %dx%d planes", name, oh, ow, dst.h, dst.w)
	}
	kd := g.kdim()
	rows, step := f.batch*oh, f.tileRows(g)
	direct := g.k == 1 && g.stride == 1 && g.pad == 0 // the input is the columns matrix
	tile := func(r0 int, col []float32) {
		r1 := min(rows, r0+step)
		p0, n := r0*ow, (r1-r0)*ow
		var b []float32
		ldb := n
		if direct {
			b, ldb = src.data[c0*src.ld+p0:], src.ld
		} else {
			b = col[:kd*n]
			im2colRows(g, src, c0, r0, r1, b)
		}
		sgemm(g.cout, n, kd, wt, kd, b, ldb, dst.data[d0*dst.ld+p0:], dst.ld)
		out := dst.data[d0*dst.ld:]
		switch epi {
		case epiLeaky:
			biasLeaky(out, dst.ld, p0, n, bias)
		case epiResidual:
			residualLeaky(f.hb.data, out, dst.ld, p0, n, bias)
		case epiOutput:
			f.output(out, dst.ld, p0, n, bias)
		}
	}
	// Tiles are independent: each worker takes the next one (the machine
	// is shared, so a static split would wait for the slower core). Each
	// tile's gemm runs on one OpenBLAS thread (stepFast opens an
	// openblas.Serial section): the parallelism is here.
	tiles := (rows + step - 1) / step
	workers := min(len(f.cols), tiles)
	var next atomic.Int64
	work := func(col []float32) {
		for t := int(next.Add(1)) - 1; t < tiles; t = int(next.Add(1)) - 1 {
			tile(t*step, col)
		}
	}
	var wg sync.WaitGroup
	for wk := 1; wk < workers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work(f.cols[wk])
		}()
	}
	work(f.cols[0])
	wg.Wait()
	return nil
}

// output is the last layer's epilogue: the predicted frame is the previous
// one plus the gated change, as graphNet.step's HadamardProd then Add.
func (f *fastNet) output(y []float32, ld, off, n int, bias []float32) {
	rgbC := f.n.cfg.C1
	gate := f.gate[off:][:n]
	for c, b := range bias {
		yv := y[c*ld+off:][:n]
		rgb := f.cat0.channel(rgbC + c)[off:][:n]
		for i, v := range yv {
			yv[i] = rgb[i] + (v+b)*gate[i]
		}
	}
}

// forward predicts the next frames of the batch from the inputs in cat0
// (rgb and agent planes at channels C1...) and gate, into pred.
func (f *fastNet) forward() error {
	cfg := f.n.cfg
	x0 := cfg.C1 // the network input's first channel in cat0
	steps := []func() error{
		func() error { return f.conv("enc1", f.cat0, x0, f.cat1, cfg.C2, epiLeaky) },
		func() error { return f.conv("enc2", f.cat1, cfg.C2, f.hb, 0, epiLeaky) },
	}
	for i := 0; i < cfg.Blocks; i++ {
		a, b := fmt.Sprintf("res%da", i), fmt.Sprintf("res%db", i)
		steps = append(steps,
			func() error { return f.conv(a, f.hb, 0, f.ab, 0, epiLeaky) },
			func() error { return f.conv(b, f.ab, 0, f.rb, 0, epiResidual) })
	}
	steps = append(steps,
		func() error { f.upsample(f.cat1, f.hb, cfg.C2); return nil },
		func() error { return f.conv("dec1", f.cat1, 0, f.d1, 0, epiLeaky) },
		func() error { f.upsample(f.cat0, f.d1, cfg.C1); return nil },
		func() error { return f.conv("dec0", f.cat0, 0, f.d0, 0, epiLeaky) },
		func() error { return f.conv("out", f.d0, 0, f.pred, 0, epiOutput) },
	)
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}

// upsample writes up2(src) (c channels) into dst's first channels, a
// channel per task over the cores.
func (f *fastNet) upsample(dst, src planes, c int) {
	parallel(c, func(ch int) {
		upsample2Into(dst, ch, planes{data: src.channel(ch), ld: src.ld, h: src.h, w: src.w}, 1, f.batch)
	})
}
