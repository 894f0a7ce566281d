package bench

import (
	"context"
	"fmt"
	"testing"

	"dreamrank/worldmodel/slots"
)

// BenchmarkSlotsStep times the committed slots model's Step on the torch
// peer's pushing episodes (a chunk of 8 steps per op), restarting the
// rollouts every MaxRolloutSteps steps as Run does.
func BenchmarkSlotsStep(b *testing.B) {
	m, err := slots.Load("../../checkpoints/pusht-slots")
	if err != nil {
		b.Fatal(err)
	}
	const chunk = 8
	work, err := pushEpisodes(m.Spec(), chunk)
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 32} {
		b.Run(fmt.Sprint("batch", batch), func(b *testing.B) {
			ctx := context.Background()
			contexts, actions := work.batch(batch)
			ro, err := m.Start(ctx, contexts)
			if err != nil {
				b.Fatal(err)
			}
			stepped := 0
			b.ResetTimer()
			for range b.N {
				if stepped+chunk > MaxRolloutSteps {
					b.StopTimer()
					ro.Close()
					if ro, err = m.Start(ctx, contexts); err != nil {
						b.Fatal(err)
					}
					stepped = 0
					b.StartTimer()
				}
				if _, err := ro.Step(ctx, actions); err != nil {
					b.Fatal(err)
				}
				stepped += chunk
			}
			b.ReportMetric(float64(b.N*chunk*batch)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
