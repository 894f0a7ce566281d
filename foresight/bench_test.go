package foresight

import (
	"testing"

	"dreamrank/policy/flow"
)

// BenchmarkAdapterChunk is the adapter's work per chunk at batch 1 with
// guidance: EulerSteps corrections of two rows (PushT sizes).
func BenchmarkAdapterChunk(b *testing.B) {
	base, err := flow.Load("../checkpoints/pusht-flow")
	if err != nil {
		b.Skip(err)
	}
	a, err := NewAdapter(base, DefaultConfig().Adapter, 1)
	if err != nil {
		b.Fatal(err)
	}
	v := make([]float32, 2*base.Config().ChunkDim())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for s := 0; s < flow.EulerSteps; s++ {
			a.Adapt(v, 1-float64(s)/flow.EulerSteps, 2)
		}
	}
}
