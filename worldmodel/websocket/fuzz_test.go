package websocket

import (
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/peer/peertest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

// FuzzDecode feeds arbitrary messages to every decoder of peer input, on
// both sides: the metadata frame and the step reply (client), the reset and
// step requests (Go peer). None may panic, and whatever one accepts fits
// the spec.
func FuzzDecode(f *testing.F) {
	spec := smallSpec()
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := []map[string]any{
		metadata(&mix{spec: spec}),
		encodeReset(spec, contexts(spec, rng)),
		encodeStep(spec, modeltest.Actions(spec, 2, 3, rng), 3),
	}
	pred, _ := encodePrediction(spec, [][]worldmodel.Observation{modeltest.Observations(spec, 3, rng), modeltest.Observations(spec, 3, rng)}, 2, 3)
	seeds = append(seeds, pred)
	peertest.FuzzMessages(f, seeds, func(t *testing.T, m map[string]any) {
		if in, err := parseMetadata(m); err == nil {
			if s := in.spec; s.FrameLen() <= 0 || s.ActionDim <= 0 || s.ContextLen <= 0 || s.ProprioDim < 0 || !(s.ControlHz > 0) {
				t.Fatalf("metadata accepted with spec %+v", s)
			}
		}
		if obs, err := observations(spec, m, 2, 3); err == nil {
			for _, ep := range obs {
				if len(ep) != 3 {
					t.Fatalf("%d steps decoded, want 3", len(ep))
				}
				for _, o := range ep {
					if len(o.Frame) != spec.FrameLen() || len(o.Proprio) != spec.ProprioDim {
						t.Fatal("a prediction off the spec decoded")
					}
				}
			}
		}
		if cs, err := decodeReset(spec, m); err == nil {
			if err := spec.ValidateContexts(cs); err != nil {
				t.Fatalf("reset accepted: %v", err)
			}
		}
		if a, err := decodeStep(spec, 2, m); err == nil {
			if _, err := spec.ValidateActions(a, 2); err != nil {
				t.Fatalf("step accepted: %v", err)
			}
		}
	})
}
