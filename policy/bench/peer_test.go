package bench

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"dreamrank/foundation/torchpeer"
	"dreamrank/policy"
	"dreamrank/policy/flow"
	"dreamrank/policy/scripted"
)

// needTorch skips the test without a Python that imports torch, even under
// CI: the tests never install PyTorch (Debian's python3-torch is large and
// only the benchmark's setup installs it, `make bench-peer`), so its
// absence is not a gap in the test setup.
func needTorch(t *testing.T) {
	t.Helper()
	if _, err := torchpeer.FindPython(context.Background(), ""); err != nil {
		t.Skipf("%v; run `ops/setup/deps.sh python3-torch python3-numpy python3-msgpack` to run this test", err)
	}
}

func committedFlow(t *testing.T) *flow.Policy {
	t.Helper()
	p, err := flow.Load("../../checkpoints/pusht-flow")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTorchPeerAgrees(t *testing.T) {
	needTorch(t)
	pool, err := Observations(peerAgree)
	if err != nil {
		t.Fatal(err)
	}
	q := 5
	for _, tc := range []struct {
		name  string
		steer *policy.Context
	}{
		{"unsteered", nil},
		{"steered with guidance", &policy.Context{Task: "push the T onto the target", Metadata: policy.Metadata{Quality: q, Speed: policy.SpeedFast}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := StartPeer(context.Background(), committedFlow(t), tc.steer, pool, torchpeer.Options{Threads: 1})
			if p != nil {
				defer p.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("actions max |diff| %g (tolerance %g)", p.MaxAbsDiff(), ActionTolerance)
			r, err := p.Time(2, Config{Duration: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Calls < 1 || r.ChunksPerSec <= 0 {
				t.Errorf("timing %+v", r)
			}
		})
	}
}

// TestRunWithTorchPeer: the report carries the peer's numbers.
func TestRunWithTorchPeer(t *testing.T) {
	needTorch(t)
	cfg := Config{Batches: []int{1, 2}, LatencyCalls: 2, Duration: 20 * time.Millisecond, Peer: PeerTorch, PeerRounds: 2}
	rep, err := Run(context.Background(), committedFlow(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep.Peer, "", "  ")
	t.Logf("%s", js)
	p := rep.Peer
	if p == nil || p.ChunksPerSecBatch1 <= 0 || p.ChunksPerSecBest <= 0 || p.RatioBest <= 0 || p.TorchVersion == "" || len(p.Batches) != 2 {
		t.Errorf("peer report %s", js)
	}
}

func TestRunPeerErrors(t *testing.T) {
	cfg := Config{Batches: []int{1}, LatencyCalls: 1, Duration: time.Millisecond}
	for _, tc := range []struct {
		name string
		peer string
		want error
	}{
		{"not a flow policy", PeerTorch, ErrNoPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg.Peer = tc.peer
			sp, err := scripted.New(scripted.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Run(context.Background(), sp, cfg); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}
