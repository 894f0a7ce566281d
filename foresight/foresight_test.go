package foresight

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/nn"
	"dreamrank/policy"
	"dreamrank/policy/flow"
)

// tinyPolicy trains a tiny flow policy on a tiny random store (a few
// milliseconds a step) and returns it with the store and its checkpoint.
func tinyPolicy(t *testing.T, episodes int) (*flow.Policy, *episode.Store, string) {
	t.Helper()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for e := 0; e < episodes; e++ {
		// Fixed ids: the held-out split hashes them.
		id := fmt.Sprintf("00000000-0000-4000-8000-%012x", e+1)
		ep := &episode.Episode{Meta: episode.Meta{ID: id, Source: "sim", Instruction: "push the T",
			Quality: 1 + e%5, Speed: []string{"slow", "normal", "fast"}[e%3]}}
		x, y := float32(rng.IntN(512)), float32(rng.IntN(512))
		for s := 0; s < 20; s++ {
			f := make([]uint8, 24*24*3)
			for i := range f {
				f[i] = uint8(rng.IntN(256))
			}
			// The pusher walks, so futures say something about actions.
			x, y = x+float32(rng.NormFloat64()*20), y+float32(rng.NormFloat64()*20)
			ep.Frames = append(ep.Frames, f)
			ep.Proprio = append(ep.Proprio, []float32{x, y})
			ep.Actions = append(ep.Actions, []float32{x + 10, y - 10})
			ep.Timestamps = append(ep.Timestamps, float64(s)/10)
		}
		if err := store.Put(context.Background(), ep, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := flow.DefaultTrainConfig()
	cfg.Model = flow.ModelConfig{FrameH: 24, FrameW: 24, Pool: 2, C1: 4, C2: 4, C3: 4, Hidden: 16, Layers: 2,
		Horizon: 4, ActionDim: 2, ProprioDim: 2, TaskDim: 8, SubgoalSize: 6, TimeDim: 8, Scale: 512}
	cfg.OutDir = filepath.Join(t.TempDir(), "policy")
	cfg.Steps, cfg.Batch, cfg.HeadSteps, cfg.HeadBatch, cfg.CheckpointEvery = 3, 4, 300, 32, 1000
	path, err := flow.Train(context.Background(), store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := flow.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p, store, path
}

func tinyConfig() Config {
	cfg := DefaultConfig()
	cfg.Offsets = []int{2, 4}
	cfg.Adapter = AdapterConfig{Hidden: 16, Layers: 2}
	cfg.Steps, cfg.TeacherSteps, cfg.Batch, cfg.CheckpointEvery = 300, 20, 32, 100
	cfg.LR = 3e-3
	cfg.HeldOut, cfg.EvalBatches = 2, 8
	return cfg
}

func tinyObs(n int) ([]policy.Observation, []policy.Context) {
	rng := rand.New(rand.NewPCG(3, 3))
	obs := make([]policy.Observation, n)
	steer := make([]policy.Context, n)
	for i := range obs {
		img := make([]uint8, 24*24*3)
		for j := range img {
			img[j] = uint8(rng.IntN(256))
		}
		obs[i] = policy.Observation{Image: img, Proprio: []float32{float32(100 + 10*i), 200}}
		steer[i] = policy.Context{Task: "push the T", Metadata: policy.Metadata{Quality: 5}}
	}
	return obs, steer
}

func TestZeroAdapterLeavesActionsUnchanged(t *testing.T) {
	p, _, path := tinyPolicy(t, 3)
	obs, steer := tinyObs(5)
	for _, tc := range []struct {
		name     string
		guidance float64
		steer    []policy.Context
		obs      bool
	}{{"guided", 1.5, steer, false}, {"unguided", 1, steer, false}, {"no context", 1.5, nil, false},
		{"observation adapter", 1.5, steer, true}} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := flow.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			base.Guidance = tc.guidance
			want, err := base.Act(context.Background(), obs, tc.steer)
			if err != nil {
				t.Fatal(err)
			}
			a, err := NewAdapter(p, AdapterConfig{Hidden: 16, Layers: 2, Obs: tc.obs}, 5)
			if err != nil {
				t.Fatal(err)
			}
			base.Adapter = a
			got, err := base.Act(context.Background(), obs, tc.steer)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for h := range want[i].Actions {
					if !slices.Equal(want[i].Actions[h], got[i].Actions[h]) {
						t.Fatalf("chunk %d action %d: %v with a zero adapter, %v without", i, h, got[i].Actions[h], want[i].Actions[h])
					}
				}
			}
		})
	}
}

// TestTeacherDiffersOnlyByMask: the teacher is the student's network on the
// same inputs; with the future masked (zeros, flag off) it is the student
// exactly, in the training graph and on the inference path, and only the
// future input changes it.
func TestTeacherDiffersOnlyByMask(t *testing.T) {
	p, store, _ := tinyPolicy(t, 4)
	ex, err := flow.LoadExamples(context.Background(), store, p, flow.ExampleConfig{Seed: 1, Dropout: flow.DefaultTrainConfig().Dropout}, nil)
	if err != nil {
		t.Fatal(err)
	}
	offsets := []int{2, 4}
	teacher := NewTeacher(p, offsets)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range teacher.W {
		teacher.W[i] = float32(rng.NormFloat64() * 0.5)
	}
	b := ex.Batch(1, 0, 8)
	fd := FutureDim(p.Config(), offsets)
	masked, future := make([]float32, b.Size*fd), make([]float32, b.Size*fd)
	futureInput(masked, ex, offsets, b, Masked, nil)
	futureInput(future, ex, offsets, b, True, nil)
	student, err := p.Velocity(b.XT, b.Temb, b.Obs, b.Ctx, nil, b.Size)
	if err != nil {
		t.Fatal(err)
	}
	vMasked, err := teacher.Velocity(b, masked)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(vMasked, student) {
		t.Error("masked teacher differs from the student")
	}
	vTeacher, err := teacher.Velocity(b, future)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(vTeacher, student) {
		t.Error("the future input changes nothing")
	}
	// The flag alone (no features) is part of the mask: it changes the
	// teacher, so the student's view must keep it off.
	flagOnly := make([]float32, len(masked))
	for k := 0; k < b.Size; k++ {
		flagOnly[(k+1)*fd-1] = 1
	}
	if v, _ := teacher.Velocity(b, flagOnly); slices.Equal(v, student) {
		t.Error("the mask flag changes nothing")
	}
	// The training graph is the same network, to float32 rounding: other
	// gemm kernels and shapes sum K terms in another order, about K*eps
	// (K < 64 here, eps 6e-8) apart relative on velocities of order 1, so 1e-4;
	// a wrong input or weight moves them by 1e-2 and more.
	tg, err := newTeacherGraph(teacher, b.Size, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	for _, tc := range []struct {
		name string
		fut  []float32
		want []float32
	}{{"masked", masked, student}, {"future", future, vTeacher}} {
		tg.load(b, tc.fut)
		if err := tg.forward(); err != nil {
			t.Fatal(err)
		}
		got := tg.v.Value().Data().([]float32)
		for i := range got {
			if d := got[i] - tc.want[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s: graph %v, inference path %v at %d", tc.name, got[i], tc.want[i], i)
			}
		}
	}
}

// TestTrainingReducesHeldOutResidual trains the teacher, then an adapter,
// and checks the residual loss on held-out episodes falls; the adapter
// written next to the policy opens as backend "foresight".
func TestTrainingReducesHeldOutResidual(t *testing.T) {
	const seedW = 4
	p, store, path := tinyPolicy(t, 12)
	ex, err := flow.LoadExamples(context.Background(), store, p, flow.ExampleConfig{Seed: 1, Dropout: flow.DefaultTrainConfig().Dropout,
		FeatureCache: filepath.Join(t.TempDir(), "features.bin")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig()
	train, held := Split(ex, cfg.HeldOut)
	if held.Episodes() == 0 || train.Episodes() == 0 {
		t.Fatalf("split %d/%d", train.Episodes(), held.Episodes())
	}
	teacherDir := filepath.Join(path, AdaptersDir, TeacherAdapter)
	teacher, tdir, err := TrainTeacher(context.Background(), train, p, cfg, teacherDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A teacher trained for a few steps on random frames knows little, and
	// the tiny base is far from converged (its ground-truth term pulls g
	// elsewhere); a strong future signal makes the test about distilling
	// the residual.
	rng := rand.New(rand.NewPCG(seedW, 4))
	for i := range teacher.W {
		teacher.W[i] += float32(rng.NormFloat64() * 3)
	}
	_, res, err := TrainAdapter(context.Background(), train, held, p, teacher, tdir, cfg, filepath.Join(path, AdaptersDir, "fs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Before.Residual != res.Before.ResidualZero {
		t.Errorf("zero adapter: residual %v, |r|^2 %v", res.Before.Residual, res.Before.ResidualZero)
	}
	if !(res.After.Residual < 0.95*res.Before.Residual) {
		t.Errorf("held-out residual loss %v after training, %v before", res.After.Residual, res.Before.Residual)
	}
	t.Logf("before: %v\nafter:  %v", res.Before, res.After)
	// The stored adapter is a policy backend; no future frames needed.
	pol, err := policy.Open(context.Background(), Name, policy.Options{"checkpoint": path, "adapter": "fs"})
	if err != nil {
		t.Fatal(err)
	}
	obs, steer := tinyObs(3)
	if _, err := pol.Act(context.Background(), obs, steer); err != nil {
		t.Fatal(err)
	}
	if d := pol.(policy.Describer).Describe(); d["adapter_mode"] != string(ModeForesight) {
		t.Errorf("describe %v", d)
	}
	// The teacher reloads as trained.
	if tt, _, err := LoadTeacher(teacherDir, p); err != nil || slices.Equal(tt.W, teacher.W) {
		t.Errorf("reloaded teacher: %v", err)
	}
}

// TestAdapterInferenceMatchesGraph: the inference path computes the
// training graph's g(v, t), to float32 rounding (1e-4, as in
// TestTeacherDiffersOnlyByMask: sums in another order, not other maths).
func TestAdapterInferenceMatchesGraph(t *testing.T) {
	p, _, _ := tinyPolicy(t, 2)
	for _, obsIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("obs=%v", obsIn), func(t *testing.T) {
			a, err := NewAdapter(p, AdapterConfig{Hidden: 16, Layers: 3, Obs: obsIn}, 9)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 5))
			for _, prm := range a.ps.List {
				for i := range prm.Data() {
					prm.Data()[i] = float32(rng.NormFloat64() * 0.3)
				}
			}
			const rows = 5
			c := p.Config()
			nn.BuildMu.Lock()
			g := G.NewGraph()
			b := a.ps.Bind(g)
			vb, temb := nn.NewInput(g, "vb", rows, c.ChunkDim()), nn.NewInput(g, "temb", rows, c.TimeDim)
			ob := nn.NewInput(g, "obs", rows, c.ObsDim())
			out, err := a.graph(b, vb.N, temb.N, ob.N)
			nn.BuildMu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			v, obs := make([]float32, rows*c.ChunkDim()), make([]float32, rows*c.ObsDim())
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			for i := range obs {
				obs[i] = float32(rng.NormFloat64())
			}
			copy(vb.Data(), v)
			copy(ob.Data(), obs)
			const ft = 0.37
			for r := 0; r < rows; r++ {
				flow.TimeEmbedding(temb.Data()[r*c.TimeDim:(r+1)*c.TimeDim], ft)
			}
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			want := out.Value().Data().([]float32)
			got := make([]float32, len(v))
			a.Correction(got, v, obs, ft, rows)
			for i := range got {
				if d := got[i] - want[i]; d > 1e-4 || d < -1e-4 {
					t.Fatalf("value %d: inference %v, graph %v", i, got[i], want[i])
				}
			}
		})
	}
}
