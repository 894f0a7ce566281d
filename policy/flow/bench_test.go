package flow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/policy"
)

// BenchmarkTrainStep times one optimizer step of the default model at
// batch 64 on random inputs.
func BenchmarkTrainStep(b *testing.B) {
	G.Use(openblas.Implementation{})
	tensor.Use(openblas.Implementation{})
	c := DefaultModelConfig()
	ps := newParams(c, 1)
	tg, err := newTrainGraph(ps, c, 64, false, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.close()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range []nn.Input{tg.img, tg.proprio, tg.xt, tg.temb, tg.ctx, tg.target} {
		for i := range in.Data() {
			in.Data()[i] = float32(rng.Float64())
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tg.prog.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncoder times the pixel encoder of the default model on each
// forward pass, per image, at batches 1, 2, 4 and 8 (the oneDNN pass one
// group on one core; the fast pass one image at a time), in images per
// second and CPU milliseconds per image (robust to other jobs on a shared
// machine).
func BenchmarkEncoder(b *testing.B) {
	c := DefaultModelConfig()
	ps := newParams(c, 1)
	od := c.obsDim()
	for _, batch := range []int{1, 2, 4, 8} {
		obs := randomObs(c, batch, 1)
		feat := make([]float32, batch*od)
		b.Run(fmt.Sprintf("dnnl/batch%d", batch), func(b *testing.B) {
			e, err := newDnnlEncoder(c, ps, batch)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			in := 3 * c.inH() * c.inW()
			pooled := make([]uint8, in)
			timeImages(b, batch, func() {
				for j := range batch {
					poolFrame(pooled, obs[j].Image, c.FrameH, c.FrameW, c.Pool)
					bytesToUnit(e.img[j*in:(j+1)*in], pooled)
				}
				if err := e.forward(); err != nil {
					b.Fatal(err)
				}
				for j := range batch {
					e.keypoints(feat[j*od:], j)
				}
			})
		})
		b.Run(fmt.Sprintf("fast/batch%d", batch), func(b *testing.B) {
			f := newFastNet(c, ps)
			defer openblas.Serial()()
			in := 3 * c.inH() * c.inW()
			pooled, img, prop := make([]uint8, in), make([]float32, in), make([]float32, c.ProprioDim)
			timeImages(b, batch, func() {
				for j := range batch {
					poolFrame(pooled, obs[j].Image, c.FrameH, c.FrameW, c.Pool)
					bytesToUnit(img, pooled)
					f.encode(feat[j*od:(j+1)*od], img, prop)
				}
			})
		})
	}
}

// timeImages runs do (batch images each) in b's loop and reports images
// per second and CPU milliseconds per image.
func timeImages(b *testing.B, batch int, do func()) {
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	for b.Loop() {
		do()
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	images := float64(batch * b.N)
	b.ReportMetric(images/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(cpu.Seconds()*1000/images, "cpu-ms/image")
}

// BenchmarkAct times Act on the default model (random weights, random
// frames) at batches 1 and 32 on each encoder pass, in chunks per second
// and CPU milliseconds per chunk.
func BenchmarkAct(b *testing.B) {
	c := DefaultModelConfig()
	p := newPolicy(c, newParams(c, 1))
	defer p.Close()
	for _, inference := range []string{"dnnl", "fast"} {
		for _, batch := range []int{1, 32} {
			obs := randomObs(c, batch, 2)
			b.Run(fmt.Sprintf("%s/batch%d", inference, batch), func(b *testing.B) {
				p.Inference = inference
				timeImages(b, batch, func() {
					if _, err := p.Act(context.Background(), obs, nil); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkSample times the sampler alone (Act after the front end: 10
// Euler steps of the head, guided) on the pose checkpoints' head shape
// (hidden 512, random weights and features) at batches 1, 8 and 64, head.go's
// path beside the reference it replaced (referenceSample), in chunks per
// second and CPU milliseconds per chunk.
func BenchmarkSample(b *testing.B) {
	c := PoseModelConfig()
	c.Hidden = 512
	p := newPolicy(c, newParams(c, 1))
	defer p.Close()
	for _, batch := range []int{1, 8, 64} {
		obs := randomObs(c, batch, 2)
		feat := make([]float32, batch*c.obsDim())
		for i := range feat {
			feat[i] = float32(i%7) / 7
		}
		steer := make([]policy.Context, batch)
		for i := range steer {
			steer[i] = policy.Context{Task: "push the T-shaped block onto the green target", Metadata: policy.Metadata{Quality: 5, Speed: policy.SpeedNormal}}
		}
		b.Run(fmt.Sprintf("sample/batch%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			timeImages(b, batch, func() {
				if _, err := p.ActFeatures(context.Background(), feat, obs, steer); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(fmt.Sprintf("reference/batch%d", batch), func(b *testing.B) {
			defer openblas.Serial()()
			timeImages(b, batch, func() { referenceSample(p, feat, obs, steer) })
		})
	}
}

// BenchmarkHeadPass times one step of the head (every layer, the
// velocity of rows rows) on the pose checkpoints' shape on each pass,
// OpenBLAS with Go's epilogues and oneDNN with fused ones, in CPU
// microseconds per row (robust to other jobs): what minDnnlHeadRows is
// chosen by.
func BenchmarkHeadPass(b *testing.B) {
	c := PoseModelConfig()
	c.Hidden = 512
	p := newPolicy(c, newParams(c, 1))
	defer p.Close()
	layers := p.layers
	in := layers[0].In
	for _, rows := range []int{2, 4, 8, 16, 32, 64} {
		w := (&headWork{layers: layers}).sized(rows, in, c.Hidden, c.chunkDim())
		h, err := newDnnlHead(layers, nil, rows)
		if err != nil {
			b.Fatal(err)
		}
		for _, pass := range []struct {
			name string
			headPass
		}{{"blas", w}, {"dnnl", h}} {
			x := pass.input()
			for i := range x[:rows*in] {
				x[i] = float32(i%11) / 11
			}
			b.Run(fmt.Sprintf("%s/rows%d", pass.name, rows), func(b *testing.B) {
				defer openblas.Serial()()
				var r0, r1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
				for b.Loop() {
					if err := pass.forward(rows); err != nil {
						b.Fatal(err)
					}
				}
				syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
				cpu := time.Duration(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*rows), "cpu-us/row")
			})
		}
		h.Close()
	}
}
