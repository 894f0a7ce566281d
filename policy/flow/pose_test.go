package flow

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/policytest"
)

// tinyPose is the pose front end with a tiny head.
func tinyPose(out string) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.Model = PoseModelConfig()
	cfg.Model.Hidden, cfg.Model.Layers, cfg.Model.Horizon = 16, 2, 4
	cfg.OutDir = out
	cfg.Steps, cfg.HeadSteps, cfg.HeadBatch, cfg.CheckpointEvery = 0, 4, 8, 2
	return cfg
}

// labelled reads the PushT observations and pairs them with made-up chunks.
func labelled(t *testing.T, c ModelConfig, obs []policy.Observation) []Labelled {
	t.Helper()
	var out []Labelled
	for i, o := range obs {
		rd, err := pusht.ReadFrame(o.Image, pusht.ObsSize)
		if err != nil {
			t.Fatal(err)
		}
		acts := make([][]float32, c.Horizon)
		for h := range acts {
			acts[h] = []float32{o.Proprio[0] + float32(h), o.Proprio[1] - float32(i)}
		}
		out = append(out, Labelled{Reading: rd, Proprio: o.Proprio, Actions: acts, Meta: policy.Metadata{Quality: 5}})
	}
	return out
}

func TestPoseFeature(t *testing.T) {
	c := PoseModelConfig()
	tests := []struct {
		name  string
		block pusht.Pose
		agent pusht.Vec2
	}{
		{"at the goal", pusht.Goal, pusht.Vec2{X: 100, Y: 400}},
		{"turned and off centre", pusht.Pose{X: 180, Y: 330, Angle: 2.5}, pusht.Vec2{X: 300, Y: 120}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := pusht.New(pusht.Config{})
			env.SetState(pusht.State{Agent: tt.agent, Block: tt.block})
			o := env.Observe()
			got := make([]float32, c.obsDim())
			if err := c.poseObs(got, o.Image, []float32{float32(tt.agent.X), float32(tt.agent.Y)}); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, c.obsDim())
			c.PoseObs(want, pusht.Reading{Block: tt.block, BlockOK: true, Quality: 1}, []float32{float32(tt.agent.X), float32(tt.agent.Y)})
			if got[0] != 1 {
				t.Fatalf("block not read: %v", got)
			}
			// The reader is good to a few table pixels and about a degree.
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 0.03 {
					t.Errorf("feature %d: read %.4f, true pose gives %.4f", i, got[i], want[i])
				}
			}
		})
	}
}

func TestPoseFeatureNoBlock(t *testing.T) {
	c := PoseModelConfig()
	dst := make([]float32, c.obsDim())
	for i := range dst {
		dst[i] = 9
	}
	c.PoseObs(dst, pusht.Reading{}, []float32{256, 0})
	for i := 0; i < PoseFeatureDim; i++ {
		if dst[i] != 0 {
			t.Errorf("feature %d = %v without a block, want 0", i, dst[i])
		}
	}
	if dst[PoseFeatureDim] != 0 || dst[PoseFeatureDim+1] != -1 {
		t.Errorf("proprio %v, want [0 -1]", dst[PoseFeatureDim:])
	}
}

// TestPoseTrainAndContract trains the pose front end's head for a few steps
// on relabelled examples alone, resumes, starts another run from its
// weights, and checks the policy keeps the interface's promises.
func TestPoseTrainAndContract(t *testing.T) {
	ctx := context.Background()
	cfg := tinyPose(filepath.Join(t.TempDir(), "a"))
	obs := policytest.PushT(4)
	extra := labelled(t, cfg.Model, obs)
	path, err := TrainWith(ctx, nil, cfg, TrainOptions{Extra: extra, Tag: "t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TrainWith(ctx, nil, cfg, TrainOptions{Extra: extra, Tag: "t"}, nil)
	if err != nil || again != path {
		t.Fatalf("resuming a finished run gave %q, %v; want %q", again, err, path)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Describe(); d["encoder"] != EncoderPose {
		t.Errorf("describe %v: no pose encoder", d)
	}
	for _, name := range []string{"enc1", "aux"} {
		for _, prm := range p.Params().List {
			if strings.HasPrefix(prm.Name, name) {
				t.Errorf("pose policy has encoder parameter %q", prm.Name)
			}
		}
	}
	cfg2 := tinyPose(filepath.Join(t.TempDir(), "b"))
	cfg2.HeadSteps = 2
	if _, err := TrainWith(ctx, nil, cfg2, TrainOptions{Extra: extra, Init: path, ExtraShare: 0.5}, nil); err != nil {
		t.Fatal(err)
	}
	q, err := policy.Open(ctx, Name, policy.Options{"checkpoint": path, "seed": "5"})
	if err != nil {
		t.Fatal(err)
	}
	policytest.Contract(t, q, obs[:3])

	// The initial noise is all that differs between seeds: at temperature
	// 0 two seeds give the same chunk, at the trained temperature not.
	chunks := func(opts policy.Options) []policy.Chunk {
		p, err := policy.Open(ctx, Name, opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Act(ctx, obs[:1], nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cold := policy.Options{"checkpoint": path, "temperature": "0"}
	a, b := chunks(cold), chunks(policy.Options{"checkpoint": path, "temperature": "0", "seed": "9"})
	if !reflect.DeepEqual(a, b) {
		t.Error("at temperature 0 the chunk depends on the seed")
	}
	if reflect.DeepEqual(chunks(policy.Options{"checkpoint": path}), chunks(policy.Options{"checkpoint": path, "seed": "9"})) {
		t.Error("at temperature 1 two seeds give the same chunk")
	}
	if _, err := policy.Open(ctx, Name, policy.Options{"checkpoint": path, "temperature": "2"}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("temperature 2: %v, want ErrBadInput", err)
	}
}

func TestPoseConfig(t *testing.T) {
	conv, err := json.Marshal(DefaultModelConfig())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(conv), "encoder") {
		t.Errorf("the conv encoder's config %s names an encoder: old checkpoints would differ", conv)
	}
	tests := []struct {
		name string
		mut  func(*TrainConfig)
	}{
		{"unknown encoder", func(c *TrainConfig) { c.Model.Encoder = "lidar" }},
		{"end-to-end steps", func(c *TrainConfig) { c.Steps = 10 }},
		{"no head steps", func(c *TrainConfig) { c.HeadSteps = 0 }},
		{"non-square frames", func(c *TrainConfig) { c.Model.FrameW = 48 }},
		{"negative relative scale", func(c *TrainConfig) { c.Model.Relative = -1 }},
		{"relative without proprio to offset", func(c *TrainConfig) { c.Model.ActionDim = 3 }},
		{"executes past the chunk", func(c *TrainConfig) { c.Model.Execute = c.Model.Horizon + 1 }},
		{"temperature above 1", func(c *TrainConfig) { c.Model.Temperature = 1.5 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tinyPose(t.TempDir())
			tt.mut(&cfg)
			if err := cfg.validate(); !errors.Is(err, ErrConfig) {
				t.Errorf("validate: %v, want ErrConfig", err)
			}
		})
	}
	if _, err := TrainWith(context.Background(), nil, tinyTrain(t.TempDir()), TrainOptions{Extra: make([]Labelled, 1)}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("extra examples with the conv encoder: %v, want ErrConfig", err)
	}
}

func TestActionFrame(t *testing.T) {
	tests := []struct {
		name     string
		relative float64
	}{
		{"absolute", 0},
		{"relative", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := PoseModelConfig()
			c.Relative = tt.relative
			for _, ap := range [][2]float32{{100, 100}, {37.5, 480}, {511, 3}} {
				v := c.actionValue(ap[0], ap[1])
				// 1e-3 px: float32 rounding of a position in [0, 512].
				if back := c.action(v, ap[1]); math.Abs(float64(back-ap[0])) > 1e-3 {
					t.Errorf("action %v at pusher %v: value %v maps back to %v", ap[0], ap[1], v, back)
				}
			}
			if v := c.actionValue(200, 200); tt.relative > 0 && v != 0 {
				t.Errorf("an action at the pusher has relative value %v, want 0", v)
			}
		})
	}
}

func BenchmarkPoseObs(b *testing.B) {
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100000)
	o := env.Observe()
	c := PoseModelConfig()
	dst := make([]float32, c.obsDim())
	for b.Loop() {
		if err := c.poseObs(dst, o.Image, []float32{1, 2}); err != nil {
			b.Fatal(err)
		}
	}
}
