package latent

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"dreamrank/foundation/openblas"
)

// BenchmarkTrainStep times one optimizer step of the default model at the
// default training shape (batch 8, unroll 4, 56x56 crops) and reports the
// achieved GFLOP/s (backward counted as twice the forward).
func BenchmarkTrainStep(b *testing.B) {
	n := newNet(DefaultModelConfig(), 1)
	tg, err := newTrainGraph(n, 8, 4, 56, 56)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n.numParams()), "params")
	for b.Loop() {
		if _, err := tg.run(); err != nil {
			b.Fatal(err)
		}
	}
	flops := 3 * n.flops(56, 56) * 8 * 4
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(8*float64(b.N)/b.Elapsed().Seconds(), "examples/s")
}

// BenchmarkFastForward times the fast forward pass of the default model at
// batch 8 and reports the achieved GFLOP/s.
func BenchmarkFastForward(b *testing.B) {
	n := newNet(DefaultModelConfig(), 1)
	const batch = 8
	f := newFastNet(n, batch)
	f.setBatch(batch)
	defer openblas.Serial()()
	for b.Loop() {
		if err := f.forward(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(n.flops(96, 96)*batch*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkDnnlForward times the oneDNN forward pass of the default model
// at batches 1, 2, 4 and 8 (the network alone, no input or output
// conversion, one core) and reports the achieved GFLOP/s (nominal FLOPs)
// and the CPU time per frame.
func BenchmarkDnnlForward(b *testing.B) {
	n := newNet(DefaultModelConfig(), 1)
	for _, batch := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprint("batch", batch), func(b *testing.B) {
			d, err := newDnnlNet(n, batch)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			cpu0 := cpuTime()
			for b.Loop() {
				if err := d.forward(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(n.flops(96, 96)*float64(batch*b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "frames/s")
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/float64(batch*b.N), "cpu-ms/frame")
		})
	}
}

// BenchmarkStep times Rollout.Step on the committed checkpoint, chunks of
// 8 actions at batches 1, 2, 4 and 8, through each forward pass
// (inputs, network, frames, snap: everything a rollout pays), in frames
// per second and in CPU milliseconds per frame (the process's CPU time:
// robust to other jobs on a shared machine, which frames/s is not).
func BenchmarkStep(b *testing.B) {
	m, err := Load(committedCheckpoint)
	if err != nil {
		b.Skip(err)
	}
	defer m.Close()
	const chunk = 8
	for _, mode := range []string{"dnnl", "fast"} {
		for _, batch := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/batch%d", mode, batch), func(b *testing.B) {
				ctxs, acts := scenes(b, m, batch, chunk, 3)
				if err := m.SetInference(mode); err != nil {
					b.Fatal(err)
				}
				r, err := m.Start(context.Background(), ctxs)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				if _, err := r.Step(context.Background(), acts); err != nil { // builds the passes
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					if _, err := r.Step(context.Background(), acts); err != nil {
						b.Fatal(err)
					}
				}
				frames := float64(batch * chunk * b.N)
				b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
				b.ReportMetric((cpuTime()-cpu0).Seconds()*1000/frames, "cpu-ms/frame")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
