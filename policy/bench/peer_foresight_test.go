package bench_test

import (
	"context"
	"testing"
	"time"

	"dreamrank/foresight"
	"dreamrank/foundation/torchpeer"
	"dreamrank/policy"
	"dreamrank/policy/bench"
)

// TestTorchPeerForesight: the peer runs the zoo's foresight arms (the pose
// policy plus a residual adapter, with and without the observation input)
// and agrees with Go's Act. An external test: package foresight imports
// this one.
func TestTorchPeerForesight(t *testing.T) {
	if _, err := torchpeer.FindPython(context.Background(), ""); err != nil {
		t.Skipf("%v; run `ops/setup/deps.sh python3-torch python3-numpy python3-msgpack` to run this test", err)
	}
	pool, err := bench.Observations(8)
	if err != nil {
		t.Fatal(err)
	}
	steer := &policy.Context{Task: "push the T-shaped block onto the green target", Metadata: policy.Metadata{Quality: 5, Speed: policy.SpeedNormal}}
	for _, adapter := range []string{"foresight-s1", "foresight-obs-s1"} {
		t.Run(adapter, func(t *testing.T) {
			ctx := context.Background()
			p, err := foresight.Open(ctx, policy.Options{"checkpoint": "../../checkpoints/pusht-pose/relative-round-01", "adapter": adapter})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			pr, err := bench.StartPeer(ctx, p, steer, pool, torchpeer.Options{Threads: 1})
			if pr != nil {
				defer pr.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("actions max |diff| %g (tolerance %g)", pr.MaxAbsDiff(), bench.ActionTolerance)
			if r, err := pr.Time(2, bench.Config{Duration: time.Millisecond}); err != nil || r.Calls < 1 {
				t.Errorf("timing %+v, %v", r, err)
			}
		})
	}
}
