package remote

import (
	"context"
	"fmt"
	"testing"

	"dreamrank/foundation/service/servicetest"
	"dreamrank/policy"
)

// BenchmarkAct measures the protocol's own cost: PushT-sized observations
// (96x96 RGB + 2 proprio) through an embedded NATS server to a policy that
// does no work, 16-action chunks back.
func BenchmarkAct(b *testing.B) {
	url := servicetest.NATS(b)
	spec := policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 16}
	serve(b, url, "echo", &echo{spec: spec}, ServeOptions{})
	c, err := Dial(context.Background(), servicetest.Connect(b, url), "echo", DialOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("batch%d", batch), func(b *testing.B) {
			obs := make([]policy.Observation, batch)
			for i := range obs {
				obs[i] = policy.Observation{Image: make([]uint8, spec.FrameLen()), Proprio: []float32{1, 2}}
			}
			b.SetBytes(int64(batch * spec.FrameLen()))
			for b.Loop() {
				if _, err := c.Act(context.Background(), obs, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*batch), "µs/obs")
		})
	}
}
