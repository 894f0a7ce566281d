package remote

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/service/servicetest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
	"dreamrank/worldmodel/modeltest"
)

// BenchmarkStep measures one Step round trip through an embedded
// nats-server (default 1 MiB max_payload) with the copy-last model behind
// it, PushT frames, chunks of 8; MB/s counts the predicted observations'
// bytes. "direct" is the model without the bus, for comparison.
func BenchmarkStep(b *testing.B) {
	url := servicetest.NATS(b)
	spec := copylast.PushTSpec()
	serve(b, url, "copylast", copylast.New(spec), ServeOptions{})
	remote := dial(b, url, "copylast", DialOptions{})
	const chunk = 8
	for _, batch := range []int{1, 16} {
		for _, via := range []struct {
			name  string
			model worldmodel.Model
		}{{"remote", remote}, {"direct", copylast.New(spec)}} {
			b.Run(fmt.Sprintf("%s/batch=%d/chunk=%d", via.name, batch, chunk), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				contexts := make([][]worldmodel.Observation, batch)
				for i := range contexts {
					contexts[i] = modeltest.Observations(spec, 1, rng)
				}
				ctx := context.Background()
				r, err := via.model.Start(ctx, contexts)
				if err != nil {
					b.Fatal(err)
				}
				defer r.Close()
				actions := modeltest.Actions(spec, batch, chunk, rng)
				b.SetBytes(int64(observationsBytes(spec, batch*chunk)))
				b.ResetTimer()
				for b.Loop() {
					if _, err := r.Step(ctx, actions); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
