package latent

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
	"dreamrank/worldmodel/split"
)

func tinyConfig() ModelConfig {
	return ModelConfig{FrameH: 16, FrameW: 16, ContextLen: 3, C1: 4, C2: 6, Blocks: 1, CD: 4, Table: 512, AgentRadius: 40, GateRadius: 300}
}

// randomise gives every weight (also the zero-initialised output layer) a
// random value, so the model is far from the identity.
func randomise(m *Model, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	for _, p := range m.net.params {
		for i, d := 0, p.t.Data().([]float32); i < len(d); i++ {
			d[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	m.head = proprioHead{0.9, 0.05, 0, 0.05, 0}
}

func TestContract(t *testing.T) {
	m, err := New(tinyConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	randomise(m, 1)
	modeltest.Contract(t, m)
}

func TestRegisteredBackend(t *testing.T) {
	if !slices.Contains(worldmodel.Backends(), Name) {
		t.Fatalf("backend %q not registered: %v", Name, worldmodel.Backends())
	}
	if _, err := worldmodel.Open(context.Background(), Name, worldmodel.Options{}); err == nil {
		t.Fatal("opening without a checkpoint option succeeded")
	}
}

func predictAll(t *testing.T, m worldmodel.Model, seed uint64) [][]worldmodel.Observation {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	spec := m.Spec()
	ctxs := [][]worldmodel.Observation{modeltest.Observations(spec, 3, rng), modeltest.Observations(spec, 2, rng)}
	r, err := m.Start(context.Background(), ctxs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var all [][]worldmodel.Observation
	for k := 0; k < 3; k++ {
		out, err := r.Step(context.Background(), modeltest.Actions(spec, 2, 4, rng))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out...)
	}
	return all
}

func TestCheckpointRoundTrip(t *testing.T) {
	m, err := New(tinyConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	randomise(m, 2)
	dir := t.TempDir()
	meta := CheckpointMeta{Step: 7, Model: m.cfg, ProprioHead: m.head[:], DataHash: "abc"}
	path, err := saveCheckpoint(dir, meta, m.net, nil, &split.Manifest{Hash: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, dir} { // the directory itself and via latest
		got, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if !modeltest.Equal(predictAll(t, m, 5), predictAll(t, got, 5)) {
			t.Fatalf("%s: reloaded model predicts differently", p)
		}
		d := got.Describe()
		if d["step"] != "7" || d["data_hash"] != "abc" || d["checkpoint_version"] != "1" {
			t.Fatalf("Describe = %v", d)
		}
	}
	if f := m.FLOPsPerStep(); f <= 0 {
		t.Fatalf("FLOPsPerStep = %v", f)
	}
}

func TestCorruptCheckpoint(t *testing.T) {
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	meta := CheckpointMeta{Step: 1, Model: m.cfg, ProprioHead: m.head[:]}
	tests := []struct {
		name    string
		corrupt func(dir string) error
		want    error
	}{
		{"flipped weight byte", func(dir string) error {
			p := filepath.Join(dir, weightsFile)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)/2] ^= 1
			return os.WriteFile(p, b, 0o644)
		}, ErrCorrupt},
		{"truncated weights", func(dir string) error { return os.Truncate(filepath.Join(dir, weightsFile), 10) }, ErrCorrupt},
		{"missing weights", func(dir string) error { return os.Remove(filepath.Join(dir, weightsFile)) }, ErrCorrupt},
		{"truncated metadata", func(dir string) error { return os.Truncate(filepath.Join(dir, metaFile), 20) }, ErrCorrupt},
		{"other version", func(dir string) error {
			p := filepath.Join(dir, metaFile)
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, []byte(string(b[:len(b)-1])+`,"version":99}`), 0o644)
		}, ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, err := saveCheckpoint(t.TempDir(), meta, m.net, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.corrupt(path); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(path); !errors.Is(err, tc.want) {
				t.Fatalf("Load: err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := Load(t.TempDir()); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("empty directory: err = %v, want ErrNoCheckpoint", err)
	}
}

// tinyStore writes a few synthetic 16x16 episodes: a blue disc (the agent)
// moving under a first-order controller toward random targets, over a white
// table with a grey square.
func tinyStore(t *testing.T, episodes, steps int) *episode.Store {
	t.Helper()
	st, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for e := 0; e < episodes; e++ {
		ep := &episode.Episode{Meta: episode.Meta{ID: episode.NewID(), Source: "sim", Seed: new(int64(e + 1))}}
		p := [2]float32{float32(100 + rng.IntN(300)), float32(100 + rng.IntN(300))}
		a := p
		for s := 0; s < steps; s++ {
			if s%5 == 0 {
				a = [2]float32{float32(50 + rng.IntN(400)), float32(50 + rng.IntN(400))}
			}
			f := make([]uint8, 16*16*3)
			for i := range f {
				f[i] = 255
			}
			for y := 10; y < 13; y++ {
				for x := 2; x < 5; x++ {
					f[(y*16+x)*3], f[(y*16+x)*3+1], f[(y*16+x)*3+2] = 140, 160, 180
				}
			}
			cx, cy := int(p[0]*16/512), int(p[1]*16/512)
			for y := max(cy-1, 0); y <= min(cy+1, 15); y++ {
				for x := max(cx-1, 0); x <= min(cx+1, 15); x++ {
					f[(y*16+x)*3], f[(y*16+x)*3+1], f[(y*16+x)*3+2] = 65, 105, 225
				}
			}
			ep.Frames = append(ep.Frames, f)
			ep.Proprio = append(ep.Proprio, []float32{p[0], p[1]})
			ep.Actions = append(ep.Actions, []float32{a[0], a[1]})
			ep.Timestamps = append(ep.Timestamps, float64(s)/10)
			p = [2]float32{p[0] + 0.4*(a[0]-p[0]), p[1] + 0.4*(a[1]-p[1])}
		}
		if err := st.Put(context.Background(), ep, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func tinyTrainConfig(out string, steps int) TrainConfig {
	return TrainConfig{Model: tinyConfig(), OutDir: out, Seed: 3, Steps: steps, Batch: 4, Unroll: 3, UnrollStart: 1,
		LR: 3e-3, LRFinal: 0.3, ChangeWeight: 5, HumanFraction: 0.5, CheckpointEvery: 10, KeepCheckpoints: 2}
}

// oneStepError is the mean squared error of a model's one-step frame
// predictions over every step of the store's episodes.
func oneStepError(t *testing.T, m worldmodel.Model, st *episode.Store) float64 {
	t.Helper()
	metas, err := st.List(context.Background(), episode.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	se, n := 0.0, 0
	for _, meta := range metas {
		e, err := st.Get(context.Background(), meta.ID)
		if err != nil {
			t.Fatal(err)
		}
		var ctxs [][]worldmodel.Observation
		var acts [][][]float32
		for s := 0; s+1 < e.Steps; s++ {
			ctxs = append(ctxs, []worldmodel.Observation{{Frame: e.Frames[s], Proprio: e.Proprio[s]}})
			acts = append(acts, [][]float32{e.Actions[s]})
		}
		r, err := m.Start(context.Background(), ctxs)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Step(context.Background(), acts)
		if err != nil {
			t.Fatal(err)
		}
		for s := range out {
			for j, v := range out[s][0].Frame {
				d := float64(v) - float64(e.Frames[s+1][j])
				se += d * d
				n++
			}
		}
	}
	return se / float64(n)
}

func TestTrainReducesLoss(t *testing.T) {
	st := tinyStore(t, 4, 40)
	cfg := tinyTrainConfig(t.TempDir(), 150)
	reports := 0
	path, err := Train(context.Background(), st, cfg, func(p TrainProgress) {
		if p.Message == "" {
			reports++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if reports != cfg.Steps {
		t.Fatalf("%d progress reports, want %d", reports, cfg.Steps)
	}
	untrained, err := New(cfg.Model, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	before, after := oneStepError(t, untrained, st), oneStepError(t, m, st)
	t.Logf("one-step frame MSE %.1f untrained (copies the frame) -> %.1f trained", before, after)
	if !(after < 0.8*before) {
		t.Fatalf("training did not reduce the prediction error: %.1f -> %.1f", before, after)
	}
	if d := m.Describe(); d["step"] != strconv.Itoa(cfg.Steps) || d["data_hash"] == "" {
		t.Fatalf("Describe = %v", d)
	}
	entries, _ := os.ReadDir(cfg.OutDir)
	kept := 0
	for _, e := range entries {
		if e.IsDir() {
			kept++
		}
	}
	if kept != cfg.KeepCheckpoints {
		t.Fatalf("%d checkpoints kept, want %d", kept, cfg.KeepCheckpoints)
	}
}

func TestResume(t *testing.T) {
	st := tinyStore(t, 3, 20)
	straight := tinyTrainConfig(t.TempDir(), 20)
	a, err := Train(context.Background(), st, straight, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt a 20-step run after its checkpoint at step 10, then resume.
	split := tinyTrainConfig(t.TempDir(), 20)
	ctx, cancel := context.WithCancel(context.Background())
	_, err = Train(ctx, st, split, func(p TrainProgress) {
		if p.Step == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: err = %v, want context.Canceled", err)
	}
	var firstStep int
	b, err := Train(context.Background(), st, split, func(p TrainProgress) {
		if firstStep == 0 && p.Message == "" {
			firstStep = p.Step
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if firstStep != 11 {
		t.Fatalf("resumed run's first step is %d, want 11", firstStep)
	}
	ma, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if ma.Describe()["weights_sha256"] != mb.Describe()["weights_sha256"] {
		t.Fatal("training 10+10 steps with a resume gave other weights than 20 steps straight")
	}
}
