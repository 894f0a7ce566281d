package flow

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/policy"
)

// tinyModel is small enough that training steps take milliseconds.
func tinyModel() ModelConfig {
	return ModelConfig{FrameH: 24, FrameW: 24, Pool: 2, C1: 4, C2: 4, C3: 4, Hidden: 16, Layers: 2,
		Horizon: 4, ActionDim: 2, ProprioDim: 2, TaskDim: 8, SubgoalSize: 6, TimeDim: 8, Scale: 512}
}

// tinyStore holds a few random episodes of tinyModel's frame size.
func tinyStore(t *testing.T) *episode.Store {
	t.Helper()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for e := 0; e < 3; e++ {
		ep := &episode.Episode{Meta: episode.Meta{ID: episode.NewID(), Source: "sim", Instruction: "push the T",
			Quality: 1 + e, Speed: []string{"slow", "normal", "fast"}[e]}}
		for s := 0; s < 12; s++ {
			f := make([]uint8, 24*24*3)
			for i := range f {
				f[i] = uint8(rng.IntN(256))
			}
			ep.Frames = append(ep.Frames, f)
			ep.Proprio = append(ep.Proprio, []float32{float32(rng.IntN(512)), float32(rng.IntN(512))})
			ep.Actions = append(ep.Actions, []float32{float32(rng.IntN(512)), float32(rng.IntN(512))})
			ep.Timestamps = append(ep.Timestamps, float64(s)/10)
		}
		if err := store.Put(context.Background(), ep, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return store
}

func tinyTrain(out string) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.Model = tinyModel()
	cfg.OutDir = out
	cfg.Steps, cfg.Batch, cfg.HeadSteps, cfg.HeadBatch, cfg.CheckpointEvery = 3, 4, 3, 8, 3
	return cfg
}

func tinyObs(n int) []policy.Observation {
	rng := rand.New(rand.NewPCG(3, 3))
	obs := make([]policy.Observation, n)
	for i := range obs {
		img := make([]uint8, 24*24*3)
		for j := range img {
			img[j] = uint8(rng.IntN(256))
		}
		obs[i] = policy.Observation{Image: img, Proprio: []float32{float32(100 + 10*i), 200}}
	}
	return obs
}

func act(t *testing.T, p *Policy, obs []policy.Observation, steer []policy.Context) []policy.Chunk {
	t.Helper()
	out, err := p.Act(context.Background(), obs, steer)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Spec().ValidateChunks(out, len(obs)); err != nil {
		t.Fatal(err)
	}
	return out
}

func weightsOf(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	c, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for _, w := range c.Weights {
		out[w.Name] = w.Data
	}
	return out
}

func TestTrainStagesResumeAndReload(t *testing.T) {
	ctx := context.Background()
	store := tinyStore(t)
	out := t.TempDir()
	cfg := tinyTrain(out)
	path, err := Train(ctx, store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "policy-v1-step000006" {
		t.Fatalf("last checkpoint %s", path)
	}
	// The head stage freezes the encoder and trains the head.
	e2e, head := weightsOf(t, filepath.Join(out, "policy-v1-step000003")), weightsOf(t, path)
	for name, w := range e2e {
		same := slices.Equal(w, head[name])
		if isEncoder(name) != same {
			t.Errorf("%s: unchanged %v by the head stage", name, same)
		}
	}

	// Resuming continues where training stopped.
	cfg.HeadSteps = 6
	var msgs []string
	path, err = Train(ctx, store, cfg, func(p Progress) { msgs = append(msgs, p.Message) })
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "policy-v1-step000009" || !slices.ContainsFunc(msgs, func(m string) bool { return strings.HasPrefix(m, "resumed from") }) {
		t.Errorf("resume: %s, messages %q", path, msgs)
	}

	// Reloading gives bit-identical chunks, call after call.
	a, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	obs := tinyObs(3)
	steer := []policy.Context{{Metadata: policy.Metadata{Quality: 5}}, {}, {Task: "push", Metadata: policy.Metadata{Speed: "fast"}}}
	first := act(t, a, obs, steer)
	for name, got := range map[string][]policy.Chunk{"same policy again": act(t, a, obs, steer), "reloaded": act(t, b, obs, steer)} {
		for i := range first {
			for k := range first[i].Actions {
				if !slices.Equal(first[i].Actions[k], got[i].Actions[k]) {
					t.Fatalf("%s: chunk %d action %d %v != %v", name, i, k, got[i].Actions[k], first[i].Actions[k])
				}
			}
		}
	}
	if a.Describe()["step"] != "9" {
		t.Errorf("describe %v", a.Describe())
	}
}

func TestTrainRefusesOtherArchitecture(t *testing.T) {
	store := tinyStore(t)
	out := t.TempDir()
	if _, err := Train(context.Background(), store, tinyTrain(out), nil); err != nil {
		t.Fatal(err)
	}
	cfg := tinyTrain(out)
	cfg.Model.Hidden = 32
	if _, err := Train(context.Background(), store, cfg, nil); err == nil || !strings.Contains(err.Error(), "another architecture") {
		t.Errorf("err %v", err)
	}
}

func TestGuidanceZeroIgnoresMetadata(t *testing.T) {
	p := newPolicy(tinyModel(), newParams(tinyModel(), 5))
	obs := tinyObs(2)
	q5 := []policy.Context{{Metadata: policy.Metadata{Quality: 5}}, {Metadata: policy.Metadata{Quality: 5}}}
	q1 := []policy.Context{{Metadata: policy.Metadata{Quality: 1, Speed: "slow"}}, {Metadata: policy.Metadata{Quality: 1}}}
	differ := func() bool {
		a, b := act(t, p, obs, q5), act(t, p, obs, q1)
		for i := range a {
			for k := range a[i].Actions {
				if !slices.Equal(a[i].Actions[k], b[i].Actions[k]) {
					return true
				}
			}
		}
		return false
	}
	for _, tc := range []struct {
		guidance float64
		differ   bool
	}{{0, false}, {1, true}, {DefaultGuidance, true}} {
		p.Guidance = tc.guidance
		if got := differ(); got != tc.differ {
			t.Errorf("guidance %v: metadata changes the chunk = %v, want %v", tc.guidance, got, tc.differ)
		}
	}
}

func TestActRejectsBadInput(t *testing.T) {
	p := newPolicy(tinyModel(), newParams(tinyModel(), 5))
	obs := tinyObs(1)
	obs[0].Image = obs[0].Image[:10]
	if _, err := p.Act(context.Background(), obs, nil); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("short image: %v", err)
	}
	if _, err := p.Act(context.Background(), tinyObs(1), []policy.Context{{Metadata: policy.Metadata{Quality: 9}}}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("quality 9: %v", err)
	}
}

func TestEncodeContext(t *testing.T) {
	c := tinyModel()
	yes := true
	sub := make([]uint8, 24*24*3)
	for i := range sub {
		sub[i] = 255
	}
	for _, tc := range []struct {
		name    string
		ctx     policy.Context
		drop    bool
		hot     []int // metadata slots set
		task    bool
		subgoal bool
	}{
		{"empty", policy.Context{}, false, []int{0, qualitySlots, qualitySlots + speedSlots}, false, false},
		{"all fields", policy.Context{Task: "Push the T", Metadata: policy.Metadata{Quality: 5, Speed: "fast", Mistake: &yes}, SubgoalImages: [][]uint8{sub}},
			false, []int{5, qualitySlots + 3, qualitySlots + speedSlots + 2}, true, true},
		{"metadata dropped", policy.Context{Task: "push", Metadata: policy.Metadata{Quality: 2, Speed: "slow"}},
			true, []int{0, qualitySlots, qualitySlots + speedSlots}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := make([]float32, c.ctxDim())
			c.encodeContext(v, tc.ctx, tc.drop)
			var hot []int
			for i := 0; i < metaDim; i++ {
				if v[i] == 1 {
					hot = append(hot, i)
				} else if v[i] != 0 {
					t.Errorf("slot %d = %v", i, v[i])
				}
			}
			if !slices.Equal(hot, tc.hot) {
				t.Errorf("hot slots %v, want %v", hot, tc.hot)
			}
			var norm float64
			for _, x := range v[metaDim : metaDim+c.TaskDim] {
				norm += float64(x) * float64(x)
			}
			if tc.task != (math.Abs(norm-1) < 1e-5) || (!tc.task && norm != 0) {
				t.Errorf("task norm %v", norm)
			}
			sg := v[metaDim+c.TaskDim:]
			if flag := sg[len(sg)-1] == 1; flag != tc.subgoal {
				t.Errorf("subgoal flag %v", sg[len(sg)-1])
			}
			if tc.subgoal && sg[0] != 1 {
				t.Errorf("white subgoal pooled to %v", sg[0])
			}
		})
	}
}

func TestSampleTimeIsBeta(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 200000
	var sum float64
	lo, hi := 1.0, 0.0
	for i := 0; i < n; i++ {
		x := sampleTime(rng)
		sum += x
		lo, hi = min(lo, x), max(hi, x)
	}
	// Beta(1.5, 1) has mean 0.6; scaled by 0.999 and shifted by 0.001.
	if mean := sum / n; math.Abs(mean-(0.6*0.999+0.001)) > 0.003 {
		t.Errorf("mean %v", mean)
	}
	if lo < 0.001 || hi > 1 {
		t.Errorf("range [%v, %v]", lo, hi)
	}
}
