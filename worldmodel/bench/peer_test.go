package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"dreamrank/foundation/torchpeer"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
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

// tinyModel is a small untrained model whose output layer is random too
// (untrained, it is zero: the network would predict "no change" whatever
// the trunk computes, and agreement would prove nothing).
func tinyModel(t *testing.T) *latent.Model {
	t.Helper()
	cfg := latent.DefaultModelConfig()
	cfg.C1, cfg.C2, cfg.Blocks, cfg.CD = 4, 8, 1, 4
	m, err := latent.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, w := range m.Weights() {
		if w.Name == "out.w" || w.Name[len(w.Name)-1] == 'b' {
			for i := range w.Data {
				w.Data[i] = float32(rng.NormFloat64() * 0.2)
			}
		}
	}
	return m
}

func TestTorchPeerAgrees(t *testing.T) {
	needTorch(t)
	cases := []struct {
		name  string
		model func(t *testing.T) *latent.Model
	}{
		{"tiny random", tinyModel},
		{"committed checkpoint", func(t *testing.T) *latent.Model {
			m, err := latent.Load("../../checkpoints/pusht-wm")
			if err != nil {
				t.Fatal(err)
			}
			return m
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := StartPeer(context.Background(), tc.model(t), 4, torchpeer.Options{Threads: 1})
			if p != nil {
				defer p.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			a := p.Agreement()
			t.Logf("agreement %+v", a)
			if a.InputsMaxAbsDiff > 1e-6 || a.ProprioMaxAbsDiff > 1e-3 {
				t.Errorf("step inputs differ by %g, proprio by %g", a.InputsMaxAbsDiff, a.ProprioMaxAbsDiff)
			}
			r, err := p.Time("step", 2, Config{Chunk: 4, Duration: time.Millisecond, MinCalls: 1, Warmup: 1})
			if err != nil {
				t.Fatal(err)
			}
			if r.Frames != 2*4*r.Calls || r.FPS <= 0 {
				t.Errorf("timing %+v", r)
			}
		})
	}
}

// TestRunWithTorchPeer: the report carries the peer's numbers.
func TestRunWithTorchPeer(t *testing.T) {
	needTorch(t)
	cfg := fast()
	cfg.SkipPeak, cfg.SkipBaseline, cfg.Batches, cfg.Chunk = true, true, []int{2}, 2
	cfg.Peer, cfg.PeerRounds = PeerTorch, 2
	rep, err := Run(context.Background(), tinyModel(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep.Peer, "", "  ")
	t.Logf("%s", js)
	p := rep.Peer
	if p == nil || p.FPSBatch1 <= 0 || p.FPSBest <= 0 || p.NetFPSBest <= 0 || p.RatioBest <= 0 || p.Threads < 1 || p.TorchVersion == "" || len(p.Batches) != 2 {
		t.Errorf("peer report %s", js)
	}
}

func TestRunPeerErrors(t *testing.T) {
	cfg := fast()
	cfg.SkipPeak, cfg.SkipBaseline = true, true
	for _, tc := range []struct {
		name  string
		peer  string
		model worldmodel.Model
		want  error
	}{
		{"unknown peer", "jax", &fakeModel{}, ErrBadConfig},
		{"a model that does not say its backend", PeerTorch, &fakeModel{}, ErrBadConfig},
		{"a backend without a peer", PeerTorch, &describedModel{fakeModel{}, "copylast"}, ErrBadConfig},
		{"a backend's name on another type", PeerTorch, &describedModel{fakeModel{}, latent.Name}, ErrBadConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg.Peer = tc.peer
			if _, err := Run(context.Background(), tc.model, cfg); !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}

// describedModel is a fake model that says it is backend name.
type describedModel struct {
	fakeModel
	name string
}

func (d *describedModel) Describe() map[string]string { return map[string]string{"backend": d.name} }
