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
	"dreamrank/worldmodel/slots"
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
		{"a backend's name on another type", PeerTorch, &describedModel{fakeModel{}, slots.Name}, ErrBadConfig},
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

func committedSlots(t *testing.T) *slots.Model {
	t.Helper()
	m, err := slots.Load("../../checkpoints/pusht-slots")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The slots peer computes Go's steps, and the case exercises the dynamics:
// the pusher moves the block in a good share of the steps.
func TestSlotsPeerAgrees(t *testing.T) {
	needTorch(t)
	const chunk = 4
	p, err := StartPeer(context.Background(), committedSlots(t), chunk, torchpeer.Options{Threads: 1})
	if p != nil {
		defer p.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	a := p.Agreement()
	t.Logf("agreement %+v", a)
	if want := peerEpisodes * slotsCaseChunks * chunk; a.Steps != want || a.MovedSteps < want/5 {
		t.Errorf("%d steps compared, %d moved the block; want %d, a fifth of them moved", a.Steps, a.MovedSteps, want)
	}
	if a.ProprioMaxAbsDiff > 1e-3 || a.FramesMaxAbsDiff > 8 {
		t.Errorf("proprio differs by %g, a frame byte by %d", a.ProprioMaxAbsDiff, a.FramesMaxAbsDiff)
	}
	for _, kind := range []string{"step", "net"} {
		r, err := p.Time(kind, 2, Config{Chunk: chunk, Duration: time.Millisecond, MinCalls: 1, Warmup: 1})
		if err != nil {
			t.Fatal(err)
		}
		if per := map[string]int{"step": 2 * chunk, "net": 2}[kind]; r.Frames != per*r.Calls || r.FPS <= 0 {
			t.Errorf("%s timing %+v", kind, r)
		}
	}
}

// The agreement check has teeth: a peer given a slightly wrong model
// disagrees.
func TestSlotsPeerCatchesWrongModels(t *testing.T) {
	needTorch(t)
	m := committedSlots(t)
	for _, tc := range []struct {
		name   string
		tamper func(model map[string]any)
	}{
		{"shift 1% off", func(mo map[string]any) { mo["shift_scale"] = mo["shift_scale"].(float64) * 1.01 }},
		{"no contact margin", func(mo map[string]any) { mo["contact_margin"] = 0.0 }},
		{"contact depths at half scale", func(mo map[string]any) { mo["depth_scale"] = mo["depth_scale"].(float64) * 2 }},
		{"sprites drawn in the other order", func(mo map[string]any) {
			sp := mo["sprites"].([]any)
			sp[0], sp[1] = sp[1], sp[0]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := slotsPeer{}.setup(context.Background(), m, 4)
			if err != nil {
				t.Fatal(err)
			}
			tc.tamper(s.req["model"].(map[string]any))
			var hello peerHello
			proc, err := torchpeer.Start(context.Background(), torchpeer.Options{Threads: 1}, slotsPeer{}.script(), s.req, &hello)
			if err != nil {
				t.Fatal(err)
			}
			defer proc.Close()
			err = slotsPeer{}.check(&hello.Agreement)
			t.Logf("%+v: %v", hello.Agreement, err)
			if !errors.Is(err, ErrDisagree) {
				t.Errorf("the check passed a wrong model: %+v", hello.Agreement)
			}
		})
	}
}

// TestRunWithSlotsPeer: Go is timed on the peer's episodes and the report
// carries both sides.
func TestRunWithSlotsPeer(t *testing.T) {
	needTorch(t)
	cfg := fast()
	cfg.SkipPeak, cfg.Batches, cfg.Chunk = true, []int{2}, 2
	cfg.Peer, cfg.PeerRounds = PeerTorch, 1
	rep, err := Run(context.Background(), committedSlots(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep.Peer, "", "  ")
	t.Logf("%s", js)
	p := rep.Peer
	if p == nil || p.FPSBatch1 <= 0 || p.FPSBest <= 0 || p.GoFPSBest <= 0 || p.RatioBest <= 0 || len(p.GoBatches) != 2 || p.GoBestBatch < 1 || p.MovedSteps == 0 {
		t.Errorf("peer report %s", js)
	}
}
