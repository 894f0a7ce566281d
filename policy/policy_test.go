package policy

import (
	"context"
	"errors"
	"slices"
	"testing"
)

type constPolicy struct{ spec Spec }

func (p constPolicy) Spec() Spec { return p.spec }

func (p constPolicy) Act(_ context.Context, obs []Observation, steer []Context) ([]Chunk, error) {
	if err := p.spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	out := make([]Chunk, len(obs))
	for i := range out {
		out[i].Actions = make([][]float32, p.spec.ChunkLen)
		for k := range out[i].Actions {
			out[i].Actions[k] = make([]float32, p.spec.ActionDim)
		}
	}
	return out, nil
}

var testSpec = Spec{FrameH: 2, FrameW: 2, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 4}

func TestValidateInput(t *testing.T) {
	img := make([]uint8, 12)
	good := Observation{Image: img, Proprio: []float32{1, 2}}
	tr := true
	cases := []struct {
		name  string
		obs   []Observation
		steer []Context
		ok    bool
	}{
		{"empty batch", nil, nil, true},
		{"no steering", []Observation{good}, nil, true},
		{"full steering", []Observation{good}, []Context{{Task: "push", Subtask: "approach", Metadata: Metadata{Speed: SpeedFast, Quality: 5, Mistake: &tr}, SubgoalImages: [][]uint8{img, img, img}}}, true},
		{"steer length", []Observation{good}, []Context{{}, {}}, false},
		{"no image", []Observation{{Proprio: []float32{1, 2}}}, nil, false},
		{"image size", []Observation{{Image: make([]uint8, 11), Proprio: []float32{1, 2}}}, nil, false},
		{"frame size", []Observation{{Image: img, Frames: map[string][]uint8{"wrist": {1}}, Proprio: []float32{1, 2}}}, nil, false},
		{"proprio", []Observation{{Image: img, Proprio: []float32{1}}}, nil, false},
		{"quality", []Observation{good}, []Context{{Metadata: Metadata{Quality: 6}}}, false},
		{"too many subgoals", []Observation{good}, []Context{{SubgoalImages: [][]uint8{img, img, img, img}}}, false},
		{"subgoal size", []Observation{good}, []Context{{SubgoalImages: [][]uint8{{1}}}}, false},
	}
	for _, c := range cases {
		err := testSpec.ValidateInput(c.obs, c.steer)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: err %v, want ErrBadInput", c.name, err)
		}
	}
	// Unknown sizes are not checked.
	if err := (Spec{}).ValidateInput([]Observation{{Image: []uint8{1}}}, nil); err != nil {
		t.Errorf("zero spec: %v", err)
	}
}

func TestValidateChunks(t *testing.T) {
	p := constPolicy{testSpec}
	chunks, err := p.Act(context.Background(), []Observation{{Image: make([]uint8, 12), Proprio: []float32{0, 0}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := testSpec.ValidateChunks(chunks, 1); err != nil {
		t.Fatal(err)
	}
	if err := testSpec.ValidateChunks(chunks, 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("batch mismatch: %v", err)
	}
	chunks[0].Actions[1] = []float32{1}
	if err := testSpec.ValidateChunks(chunks, 1); !errors.Is(err, ErrBadInput) {
		t.Errorf("action dim: %v", err)
	}
	if err := testSpec.ValidateChunks([]Chunk{{}}, 1); !errors.Is(err, ErrBadInput) {
		t.Errorf("empty chunk: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	Register("test-const", func(context.Context, Options) (Policy, error) { return constPolicy{testSpec}, nil })
	if !slices.Contains(Names(), "test-const") {
		t.Fatalf("Names() = %v", Names())
	}
	p, err := Open(context.Background(), "test-const", nil)
	if err != nil || p.Spec() != testSpec {
		t.Fatalf("Open: %v %v", p, err)
	}
	if _, err := Open(context.Background(), "no-such", nil); !errors.Is(err, ErrUnknownPolicy) {
		t.Errorf("unknown: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	Register("test-const", func(context.Context, Options) (Policy, error) { return nil, nil })
}

type steerLog struct {
	constPolicy
	got []Context
}

func (s *steerLog) Act(ctx context.Context, obs []Observation, steer []Context) ([]Chunk, error) {
	s.got = steer
	return s.constPolicy.Act(ctx, obs, steer)
}

func TestWithDefaultContext(t *testing.T) {
	inner := &steerLog{constPolicy: constPolicy{testSpec}}
	p := WithDefaultContext(inner, Context{Task: "arm", Metadata: Metadata{Quality: 2}})
	obs := []Observation{{Image: make([]uint8, 12), Proprio: []float32{0, 0}}, {Image: make([]uint8, 12), Proprio: []float32{0, 0}}}
	cases := []struct {
		name  string
		steer []Context
		want  string
	}{
		{"unsteered calls get the default", nil, "arm"},
		{"steered calls pass through", []Context{{Task: "mine"}, {Task: "mine"}}, "mine"},
	}
	for _, c := range cases {
		if _, err := p.Act(context.Background(), obs, c.steer); err != nil {
			t.Fatal(err)
		}
		if len(inner.got) != 2 || inner.got[1].Task != c.want {
			t.Errorf("%s: policy saw %+v", c.name, inner.got)
		}
	}
	if p.Spec() != testSpec {
		t.Error("spec not forwarded")
	}
}

func TestExecuted(t *testing.T) {
	cases := []struct {
		name                 string
		pref, want, chunk, n int
	}{
		{"asked for wins", 4, 2, 16, 2},
		{"spec preference", 4, 0, 16, 4},
		{"half the chunk", 0, 0, 16, 8},
		{"at least one", 0, 0, 1, 1},
		{"at most the chunk", 0, 20, 16, 16},
		{"preference longer than chunk", 8, 0, 5, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := (Spec{Execute: c.pref}).Executed(c.want, c.chunk); got != c.n {
				t.Fatalf("Executed(%d, %d) with preference %d = %d, want %d", c.want, c.chunk, c.pref, got, c.n)
			}
		})
	}
}
