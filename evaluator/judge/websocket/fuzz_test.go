package websocket

import (
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/peer/peertest"
)

// FuzzDecode feeds arbitrary messages to every decoder of peer input: the
// metadata frame and the reply (client), the request (Go peer). None may
// panic, and whatever one accepts keeps judge's promises.
func FuzzDecode(f *testing.F) {
	eps := []judge.Episode{
		{Frames: [][]uint8{{1, 2, 3}, {4, 5, 6}}, FrameH: 1, FrameW: 1, Channels: 3, Proprio: [][]float32{{1, 2}, {3, 4}}, Instruction: "push"},
		{Frames: [][]uint8{{7, 8, 9}}, FrameH: 1, FrameW: 1, Channels: 3},
	}
	seeds := []map[string]any{
		metadata(map[string]string{"judge": "x"}, 1<<20),
		encodeRequest(eps),
		encodeReply([]judge.Verdict{judge.Score([]float64{0.5, 0.97}, 0.95), judge.Score([]float64{0.1}, 0.95)}),
	}
	peertest.FuzzMessages(f, seeds, func(t *testing.T, m map[string]any) {
		_, _ = parseMetadata(m)
		if vs, err := decodeReply(m, []int{2, 1}); err == nil {
			for i, v := range vs {
				if len(v.Coverage) != []int{2, 1}[i] || v.Success != (v.SuccessStep >= 0) {
					t.Fatalf("verdict %d accepted: %+v", i, v)
				}
			}
		}
		if eps, err := decodeRequest(m); err == nil {
			for i, e := range eps {
				if err := e.Validate(); err != nil && len(e.Frames) > 0 {
					t.Fatalf("episode %d decoded invalid: %v", i, err)
				}
			}
		}
	})
}
