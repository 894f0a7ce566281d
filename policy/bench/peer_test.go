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

func load(t *testing.T, path string) *flow.Policy {
	t.Helper()
	p, err := flow.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func committedFlow(t *testing.T) *flow.Policy { return load(t, "../../checkpoints/pusht-flow") }

// committedPose is the zoo's pose-relative-r1 (sampled at temperature 0.5).
func committedPose(t *testing.T) *flow.Policy {
	return load(t, "../../checkpoints/pusht-pose/relative-round-01")
}

var pushT = &policy.Context{Task: "push the T-shaped block onto the green target", Metadata: policy.Metadata{Quality: 5, Speed: policy.SpeedNormal}}

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
			if _, whole := p.Unit(); !whole {
				t.Error("the pixel policy's unit is not its whole Act")
			}
			r, err := p.Time(2, Config{Duration: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if r.Calls < 1 || r.ChunksPerSec <= 0 {
				t.Errorf("timing %+v", r)
			}
			g, err := p.GoTime(context.Background(), 2, Config{Duration: time.Millisecond})
			if err != nil || g.Calls < 1 || g.ChunksPerSec <= 0 {
				t.Errorf("Go's timing %+v, %v", g, err)
			}
		})
	}
}

// TestRunWithTorchPeer: the report carries the peer's numbers; for the
// pose policy also Go's sweep of the network and its whole Act.
func TestRunWithTorchPeer(t *testing.T) {
	needTorch(t)
	cfg := Config{Batches: []int{1, 2}, LatencyCalls: 2, Duration: 20 * time.Millisecond, Peer: PeerTorch, PeerRounds: 2}
	for _, tc := range []struct {
		name   string
		policy func(*testing.T) *flow.Policy
		steer  *policy.Context
	}{
		{"pixels", committedFlow, nil},
		{"pose", committedPose, pushT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg.Steer = tc.steer
			rep, err := Run(context.Background(), tc.policy(t), cfg)
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.MarshalIndent(rep.Peer, "", "  ")
			t.Logf("%s", js)
			p := rep.Peer
			if p == nil || p.ChunksPerSecBatch1 <= 0 || p.ChunksPerSecBest <= 0 || p.RatioBest <= 0 || p.TorchVersion == "" || len(p.Batches) != 2 || p.Unit == "" {
				t.Fatalf("peer report %s", js)
			}
			// The pose reader is timed on the Go side only, in the whole Act.
			networkOnly := tc.name == "pose"
			if got := len(p.GoBatches) == 2 && p.GoActChunksPerSecBatch1 > 0 && p.GoActChunksPerSecBest > 0; got != networkOnly {
				t.Errorf("Go's network sweep and whole Act reported: %v, want %v", got, networkOnly)
			}
		})
	}
}

// opaqueAdapter is an adapter the peer cannot run (no weights to export).
type opaqueAdapter struct{}

func (opaqueAdapter) Adapt([]float32, float64, int) {}

func TestRunPeerErrors(t *testing.T) {
	cfg := Config{Batches: []int{1}, LatencyCalls: 1, Duration: time.Millisecond}
	for _, tc := range []struct {
		name   string
		policy func(*testing.T) policy.Policy
		peer   string
		want   error
	}{
		{"not a flow policy", func(t *testing.T) policy.Policy {
			sp, err := scripted.New(scripted.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return sp
		}, PeerTorch, ErrNoPeer},
		{"an adapter without weights", func(t *testing.T) policy.Policy {
			p := committedPose(t)
			p.Adapter = opaqueAdapter{}
			return p
		}, PeerTorch, ErrNoPeer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg.Peer = tc.peer
			if _, err := Run(context.Background(), tc.policy(t), cfg); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}
