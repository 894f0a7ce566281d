package latent

import "testing"

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
