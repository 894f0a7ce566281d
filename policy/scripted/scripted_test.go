package scripted

import (
	"context"
	"errors"
	"math"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/expert"
)

// observe renders what the robot would report in state s.
func observe(t *testing.T, s pusht.State) policy.Observation {
	t.Helper()
	img, err := pusht.RenderState(s.Agent, s.Block, pusht.ObsSize)
	if err != nil {
		t.Fatal(err)
	}
	return policy.Observation{Image: img, Proprio: []float32{float32(s.Agent.X), float32(s.Agent.Y)}}
}

func resetState(seed int64) pusht.State {
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(seed)
	return env.State()
}

func TestObserveFromTheFrame(t *testing.T) {
	for _, seed := range []int64{100000, 100004} {
		truth := resetState(seed)
		s, ok, err := Observe(observe(t, truth))
		if err != nil || !ok {
			t.Fatalf("seed %d: ok %v, %v", seed, ok, err)
		}
		if d := math.Hypot(s.Block.X-truth.Block.X, s.Block.Y-truth.Block.Y); d > 3 {
			t.Errorf("seed %d: block read %.2f px off", seed, d)
		}
		if float32(s.Agent.X) != float32(truth.Agent.X) || s.AgentVel != (pusht.Vec2{}) {
			t.Errorf("seed %d: agent %v vel %v, want proprio %v at rest", seed, s.Agent, s.AgentVel, truth.Agent)
		}
	}
	if _, _, err := Observe(policy.Observation{Image: []uint8{1}}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("bad frame: %v", err)
	}
}

func TestOptions(t *testing.T) {
	good := []struct {
		name string
		opts policy.Options
		want Config
	}{
		{"defaults", nil, Config{}},
		{"all", policy.Options{OptQuality: "2", OptSpeed: "fast", OptNoise: "7.5", OptChunk: "8", OptSeed: "3", OptWorkers: "1"},
			Config{Quality: 2, Speed: expert.SpeedFast, Noise: 7.5, Chunk: 8, Seed: 3, Workers: 1}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseOptions(tc.opts)
			if err != nil || c != tc.want {
				t.Errorf("got %+v, %v; want %+v", c, err, tc.want)
			}
		})
	}
	bad := []policy.Options{
		{"colour": "red"}, {OptQuality: "high"}, {OptQuality: "6"}, {OptSpeed: "warp"},
		{OptNoise: "-1"}, {OptNoise: "NaN"}, {OptChunk: "-1"}, {OptChunk: "301"},
	}
	for _, o := range bad {
		if _, err := policy.Open(context.Background(), Name, o); !errors.Is(err, ErrBadOption) {
			t.Errorf("%v: err %v, want ErrBadOption", o, err)
		}
	}
}

func TestSteeringOverridesOptions(t *testing.T) {
	p, err := New(Config{Quality: 4, Speed: expert.SpeedSlow})
	if err != nil {
		t.Fatal(err)
	}
	tr, fa := true, false
	cases := []struct {
		name string
		c    *policy.Context
		want expert.Options
	}{
		{"no context", nil, expert.Options{Quality: 4, Speed: expert.SpeedSlow}},
		{"empty context", &policy.Context{}, expert.Options{Quality: 4, Speed: expert.SpeedSlow}},
		{"quality and speed", &policy.Context{Metadata: policy.Metadata{Quality: 2, Speed: policy.SpeedFast}}, expert.Options{Quality: 2, Speed: expert.SpeedFast}},
		{"mistake lowers quality", &policy.Context{Metadata: policy.Metadata{Mistake: &tr}}, expert.Options{Quality: 3, Speed: expert.SpeedSlow}},
		{"mistake at quality 1", &policy.Context{Metadata: policy.Metadata{Quality: 1, Mistake: &tr}}, expert.Options{Quality: 1, Speed: expert.SpeedSlow}},
		{"no mistake", &policy.Context{Metadata: policy.Metadata{Quality: 5, Mistake: &fa}}, expert.Options{Quality: 5, Speed: expert.SpeedSlow}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.options(tc.c)
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	if _, err := p.options(&policy.Context{Metadata: policy.Metadata{Speed: "warp"}}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("bad speed: %v", err)
	}
}

// TestActDeterministicAndNoisy: a chunk depends only on the observation and
// the options; noise changes it by about its std.
func TestActDeterministicAndNoisy(t *testing.T) {
	ctx := context.Background()
	obs := []policy.Observation{observe(t, resetState(100000)), observe(t, resetState(100001))}
	clean, err := New(Config{Chunk: 8})
	if err != nil {
		t.Fatal(err)
	}
	noisy, err := New(Config{Chunk: 8, Noise: 10})
	if err != nil {
		t.Fatal(err)
	}
	a, err := clean.Act(ctx, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := clean.Spec().ValidateChunks(a, 2); err != nil {
		t.Fatal(err)
	}
	b, _ := clean.Act(ctx, obs[:1], nil)
	n, err := noisy.Act(ctx, obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sq float64
	for k := range a[0].Actions {
		if a[0].Actions[k][0] != b[0].Actions[k][0] || a[0].Actions[k][1] != b[0].Actions[k][1] {
			t.Fatalf("action %d differs between calls (or with the batch)", k)
		}
		for d := range 2 {
			e := float64(n[0].Actions[k][d] - a[0].Actions[k][d])
			sq += e * e
		}
	}
	if rms := math.Sqrt(sq / 16); rms < 4 || rms > 20 {
		t.Errorf("noise rms %.1f px, want about 10", rms)
	}
	// The first target heads from the pusher towards the block.
	s := resetState(100000)
	first := a[0].Actions[0]
	if d0, d1 := math.Hypot(s.Agent.X-s.Block.X, s.Agent.Y-s.Block.Y), math.Hypot(float64(first[0])-s.Block.X, float64(first[1])-s.Block.Y); d1 >= d0 {
		t.Errorf("first target %v does not approach the block (%.0f -> %.0f px)", first, d0, d1)
	}
}
