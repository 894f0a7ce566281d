package objects

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

// randomModel is an untrained model whose block network and agent head have
// random non-zero weights, so every path of a step is exercised.
func randomModel(t *testing.T) *Model {
	t.Helper()
	cfg := DefaultModelConfig()
	cfg.Hidden = 16
	ps := newParams(cfg, 7)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, v := range []string{outLayer + ".w", outLayer + ".b"} {
		for i := range ps.Get(v).Data() {
			ps.Get(v).Data()[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	copy(ps.Get(agentParam).Data(), []float32{0.4, 0.1, 0.5})
	return newModel(cfg, ps, map[string]string{"checkpoint": "test"})
}

func TestContract(t *testing.T) {
	modeltest.Contract(t, randomModel(t))
}

// A rigidly moved scene (pusher history, action and block turned and
// shifted together) must give the same motion, turned and shifted: the
// dynamics are learned in the block's frame and the agent head is the same
// on both axes.
func TestStepIsRigidInvariant(t *testing.T) {
	m := randomModel(t)
	f := newForward(m.ps, m.cfg)
	base := state{agent: [3][2]float64{{200, 260}, {195, 262}, {190, 265}}, block: pose{230, 240, 0.3}}
	u := [2]float64{240, 250}
	tests := []struct {
		name       string
		turn, x, y float64
	}{
		{"shift", 0, 37.5, -12.25},
		{"turn", 1.1, 0, 0},
		{"turn and shift", -2.4, 80, 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c := math.Sincos(tc.turn)
			tf := func(p [2]float64) [2]float64 {
				return [2]float64{c*p[0] - s*p[1] + tc.x, s*p[0] + c*p[1] + tc.y}
			}
			a, b := base, base
			for k := range b.agent {
				b.agent[k] = tf(b.agent[k])
			}
			o := tf([2]float64{base.block.x, base.block.y})
			b.block = pose{o[0], o[1], base.block.a + tc.turn}
			for range 5 {
				m.step(f, &a, u)
				m.step(f, &b, tf(u))
			}
			if a.block == base.block {
				t.Fatal("the block did not move: the test exercises nothing")
			}
			want := tf([2]float64{a.block.x, a.block.y})
			if d := math.Hypot(want[0]-b.block.x, want[1]-b.block.y); d > 1e-3 {
				t.Errorf("block position off by %g px", d)
			}
			if d := math.Abs(math.Remainder(a.block.a+tc.turn-b.block.a, 2*math.Pi)); d > 1e-5 {
				t.Errorf("block angle off by %g rad", d)
			}
			wa := tf(a.agent[0])
			if d := math.Hypot(wa[0]-b.agent[0][0], wa[1]-b.agent[0][1]); d > 1e-6 {
				t.Errorf("agent off by %g px", d)
			}
		})
	}
}

// A pusher far from the block never moves it, whatever the network says.
func TestFarPusherLeavesBlock(t *testing.T) {
	m := randomModel(t)
	f := newForward(m.ps, m.cfg)
	s := state{agent: [3][2]float64{{450, 450}, {450, 450}, {450, 450}}, block: pose{150, 150, 1}}
	for range 50 {
		m.step(f, &s, [2]float64{460, 440})
	}
	if s.block != (pose{150, 150, 1}) {
		t.Fatalf("block moved to %+v", s.block)
	}
}

// Perception reads the block the renderer drew, within the reader's accuracy.
func TestPerceiveReadsRenderedBlock(t *testing.T) {
	block := pusht.Pose{X: 210, Y: 300, Angle: 2.2}
	frame, err := pusht.RenderState(pusht.Vec2{X: 100, Y: 120}, block, frameSize)
	if err != nil {
		t.Fatal(err)
	}
	s := perceive([]worldmodel.Observation{{Frame: frame, Proprio: []float32{100, 120}}})
	if d := math.Hypot(s.block.x-block.X, s.block.y-block.Y); d > 2 {
		t.Fatalf("block read %g px off: %+v", d, s.block)
	}
	if s.agent[2] != [2]float64{100, 120} {
		t.Fatalf("agent history %v, want the one position repeated", s.agent)
	}
}

// simStore writes a few short expert episodes to a temporary store.
func simStore(t *testing.T) *episode.Store {
	t.Helper()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	opts := expert.Options{Quality: 5, MaxSteps: 40}
	if _, err := expert.Generate(context.Background(), store, []int64{1, 2, 3}, opts, 2, episode.PutOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	return store
}

// Training runs end to end on simulated episodes, resumes, and the
// checkpoint reloads into a model whose predictions are bit-identical.
func TestTrainCheckpointRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	store := simStore(t)
	cfg := DefaultTrainConfig()
	cfg.Model.Hidden, cfg.Model.Layers = 16, 2
	cfg.OutDir = filepath.Join(t.TempDir(), "run")
	cfg.Steps, cfg.Batch, cfg.Unroll, cfg.CheckpointEvery = 6, 8, 4, 3
	path, err := Train(ctx, store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.OutDir, PoseCacheFile)); err != nil {
		t.Fatalf("no pose cache: %v", err)
	}
	// Resuming a finished run trains nothing and returns the same checkpoint.
	again, err := Train(ctx, store, cfg, nil)
	if err != nil || again != path {
		t.Fatalf("resume: %q, %v; want %q", again, err, path)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if m.agent == [3]float64{} {
		t.Fatal("agent head not fitted")
	}
	m2, err := Load(cfg.OutDir)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Contract(t, m)
	rng := rand.New(rand.NewPCG(5, 6))
	e, err := store.List(ctx, episode.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := store.Get(ctx, e[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	contexts := [][]worldmodel.Observation{{{Frame: ep.Frames[0], Proprio: ep.Proprio[0]}}}
	actions := modeltest.Actions(m.Spec(), 1, 8, rng)
	a, b := predict(t, m, contexts, actions), predict(t, m2, contexts, actions)
	if !modeltest.Equal(a, b) {
		t.Fatal("a reloaded checkpoint predicts differently")
	}
}

func predict(t *testing.T, m worldmodel.Model, contexts [][]worldmodel.Observation, actions [][][]float32) [][]worldmodel.Observation {
	t.Helper()
	r, err := m.Start(context.Background(), contexts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out, err := r.Step(context.Background(), actions)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The committed checkpoint loads, keeps the contract and pushes the block
// when the pusher drives into it.
func TestCommittedCheckpoint(t *testing.T) {
	m, err := Load(filepath.Join("..", "..", "checkpoints", "pusht-objects"))
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Contract(t, m)
	f := newForward(m.ps, m.cfg)
	// The pusher below the stem's foot of an upright T, driven upwards.
	s := state{agent: [3][2]float64{{256, 400}, {256, 400}, {256, 400}}, block: pose{256, 250, 0}}
	for range 15 {
		m.step(f, &s, [2]float64{256, 300})
	}
	if dy := 250 - s.block.y; dy < 10 {
		t.Fatalf("the block moved %.1f px up, want at least 10: %+v", dy, s.block)
	}
	if math.Abs(s.block.x-256) > 10 || math.Abs(s.block.a) > 0.3 {
		t.Fatalf("a straight push turned or shifted the block sideways: %+v", s.block)
	}
}

// Perturbed draws (options noise and seed): noise 0 is the model itself; a
// seed gives the same rollout every time and other seeds other rollouts;
// bad options are refused.
func TestPerturbedDraws(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "..", "checkpoints", "pusht-objects")
	open := func(opts worldmodel.Options) worldmodel.Model {
		t.Helper()
		opts["checkpoint"] = dir
		m, err := worldmodel.Open(ctx, Name, opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// The pusher drives into the stem's foot of an upright T for 24 steps.
	blockAfter := func(m worldmodel.Model) [2]float32 {
		t.Helper()
		frame, err := pusht.RenderState(pusht.Vec2{X: 256, Y: 400}, pusht.Pose{X: 256, Y: 250}, frameSize)
		if err != nil {
			t.Fatal(err)
		}
		obs := worldmodel.Observation{Frame: frame, Proprio: []float32{256, 400}}
		ctxObs := make([]worldmodel.Observation, m.Spec().ContextLen)
		for i := range ctxObs {
			ctxObs[i] = obs
		}
		r, err := m.Start(ctx, [][]worldmodel.Observation{ctxObs})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		acts := make([][]float32, 24)
		for i := range acts {
			acts[i] = []float32{256, 300}
		}
		out, err := r.Step(ctx, [][][]float32{acts})
		if err != nil {
			t.Fatal(err)
		}
		rd, err := pusht.ReadFrame(out[0][len(acts)-1].Frame, frameSize)
		if err != nil {
			t.Fatal(err)
		}
		return [2]float32{float32(rd.Block.Y), float32(rd.Block.Angle)}
	}
	base := blockAfter(open(worldmodel.Options{}))
	if got := blockAfter(open(worldmodel.Options{OptNoise: "0", OptSeed: "3"})); got != base {
		t.Errorf("noise 0 moved the block to %v, the model to %v", got, base)
	}
	a1, a2 := blockAfter(open(worldmodel.Options{OptNoise: "0.5", OptSeed: "1"})), blockAfter(open(worldmodel.Options{OptNoise: "0.5", OptSeed: "1"}))
	if a1 != a2 {
		t.Errorf("the same draw twice: %v and %v", a1, a2)
	}
	differ := 0
	for seed := 2; seed <= 4; seed++ {
		if blockAfter(open(worldmodel.Options{OptNoise: "0.5", OptSeed: strconv.Itoa(seed)})) != a1 {
			differ++
		}
	}
	if differ == 0 {
		t.Error("draws of other seeds all equal seed 1's")
	}
	for _, bad := range []worldmodel.Options{{OptNoise: "-1"}, {OptNoise: "x"}, {OptSeed: "-2"}, {"colour": "red"}} {
		bad["checkpoint"] = dir
		if _, err := worldmodel.Open(ctx, Name, bad); !errors.Is(err, ErrConfig) {
			t.Errorf("options %v: %v", bad, err)
		}
	}
}
