package trial

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/scripted"
)

// hold keeps the pusher where it is (it never succeeds) and logs its calls.
type hold struct {
	chunk     int
	batches   []int
	steered   int
	subgoaled int
	nan       bool
}

func (h *hold) Spec() policy.Spec {
	return policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: h.chunk}
}

func (h *hold) Act(_ context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	h.batches = append(h.batches, len(obs))
	if steer != nil && steer[0].Metadata.Quality == 2 {
		h.steered++
	}
	for _, c := range steer {
		if len(c.SubgoalImages) == 1 {
			h.subgoaled++
		}
	}
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		for range h.chunk {
			a := []float32{o.Proprio[0], o.Proprio[1]}
			if h.nan {
				a[0] = float32(math.NaN())
			}
			out[i].Actions = append(out[i].Actions, a)
		}
	}
	return out, nil
}

func TestLockstepBatching(t *testing.T) {
	cases := []struct {
		name           string
		chunk, execute int
		maxSteps       int
		wantCalls      int
	}{
		{"half the chunk by default", 4, 0, 10, 5},
		{"explicit execute", 8, 3, 10, 4},
		{"execute beyond the chunk", 2, 5, 6, 3},
		{"chunk of one", 1, 0, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &hold{chunk: tc.chunk}
			st := &policy.Context{Metadata: policy.Metadata{Quality: 2}}
			s, err := Run(context.Background(), h, Config{Seeds: []int64{100000, 100001, 100002}, Execute: tc.execute, MaxSteps: tc.maxSteps, Steer: st})
			if err != nil {
				t.Fatal(err)
			}
			if len(h.batches) != tc.wantCalls || s.Chunks != tc.wantCalls || h.steered != tc.wantCalls {
				t.Errorf("%d calls (%d steered), summary says %d, want %d", len(h.batches), h.steered, s.Chunks, tc.wantCalls)
			}
			for _, b := range h.batches {
				if b != 3 {
					t.Errorf("batch of %d, want all 3 episodes in lockstep", b)
				}
			}
			if s.Episodes != 3 || s.Successes != 0 || s.MeanSteps != float64(tc.maxSteps) || s.SuccessCI[0] > 1e-9 || s.MeanStepsToSuccess != nil {
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestBadActions(t *testing.T) {
	_, err := Run(context.Background(), &hold{chunk: 2, nan: true}, Config{Seeds: []int64{1}})
	if !errors.Is(err, ErrBadAction) {
		t.Errorf("NaN actions: %v", err)
	}
	p := &hold{chunk: 2}
	if _, err := Run(context.Background(), wrongSize{p}, Config{Seeds: []int64{1}}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("wrong frame size: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, p, Config{Seeds: []int64{1}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

type wrongSize struct{ *hold }

func (w wrongSize) Spec() policy.Spec { s := w.hold.Spec(); s.FrameH = 64; return s }

// TestRecordsWhatThePolicySaw: recorded frames are the store's camera
// frames (rendered from the ground truth of the same step) and proprio is
// the pusher position, as expert episodes record them.
func TestRecordsWhatThePolicySaw(t *testing.T) {
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Run(ctx, &hold{chunk: 4}, Config{Seeds: []int64{100003}, MaxSteps: 5, Record: &Recording{Store: store, Policy: "hold"}})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := store.Get(ctx, s.Results[0].EpisodeID)
	if err != nil {
		t.Fatal(err)
	}
	if ep.Steps != 5 || ep.Policy != "hold" || ep.Seed == nil || *ep.Seed != 100003 || ep.Outcome == nil {
		t.Fatalf("meta %+v", ep.Meta)
	}
	for i := range ep.Steps {
		g := ep.GroundTruth[i]
		want, err := pusht.RenderState(pusht.Vec2{X: float64(g[0]), Y: float64(g[1])}, pusht.Pose{X: float64(g[2]), Y: float64(g[3]), Angle: float64(g[4])}, pusht.ObsSize)
		if err != nil {
			t.Fatal(err)
		}
		// float32 ground truth rounds the pose, which may move an edge pixel.
		diff := 0
		for k := range want {
			if want[k] != ep.Frames[i][k] {
				diff++
			}
		}
		if diff > 30 {
			t.Errorf("step %d: frame differs from the ground truth's rendering in %d bytes", i, diff)
		}
		if ep.Proprio[i][0] != g[0] || ep.Proprio[i][1] != g[1] || !slices.Equal(ep.Actions[i], ep.Proprio[0]) {
			t.Errorf("step %d: proprio %v, actions %v, truth %v", i, ep.Proprio[i], ep.Actions[i], g)
		}
	}
}

// TestScriptedDeterministic: the scripted policy solves easy seeds through
// the camera alone, and a trial is reproducible.
func TestScriptedDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two full episodes twice")
	}
	p, err := scripted.New(scripted.Config{Quality: 3, Noise: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Seeds: []int64{100001, 100002}}
	a, err := Run(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Results, b.Results) {
		t.Errorf("two runs differ:\n%+v\n%+v", a.Results, b.Results)
	}
	if a.Successes != 2 || a.MeanMaxReward != 1 {
		t.Errorf("scripted quality 3: %+v", a)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]Result{{Success: true, MaxReward: 1, Steps: 10, StepsToSuccess: 10}, {MaxReward: 0.5, Steps: 300, StepsToSuccess: -1}})
	if s.SuccessRate != 0.5 || s.MeanMaxReward != 0.75 || s.MeanSteps != 155 || *s.MeanStepsToSuccess != 10 ||
		math.Abs(s.SuccessCI[0]-0.0945) > 1e-3 || math.Abs(s.SuccessCI[1]-0.9055) > 1e-3 {
		t.Errorf("%+v", s)
	}
}

// TestSteeringChangesBehaviour: the same scripted policy steered to move
// fast finishes an episode in fewer steps than steered to move slowly.
func TestSteeringChangesBehaviour(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two full episodes")
	}
	p, err := scripted.New(scripted.Config{})
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]float64{}
	for _, speed := range []string{policy.SpeedFast, policy.SpeedSlow} {
		s, err := Run(context.Background(), p, Config{Seeds: []int64{100002}, Steer: &policy.Context{Metadata: policy.Metadata{Speed: speed}}})
		if err != nil {
			t.Fatal(err)
		}
		if s.Successes != 1 {
			t.Fatalf("%s: %+v", speed, s)
		}
		steps[speed] = s.MeanSteps
	}
	if steps[policy.SpeedFast] >= steps[policy.SpeedSlow] {
		t.Errorf("fast took %v steps, slow %v", steps[policy.SpeedFast], steps[policy.SpeedSlow])
	}
}

// TestStartAndPath: a custom start state replaces the legacy reset, and the
// kept path holds the pusher's start and one position per step.
func TestStartAndPath(t *testing.T) {
	start := func(env *pusht.Env, seed int64) {
		env.SetState(pusht.State{Agent: pusht.Vec2{X: 100 + float64(seed), Y: 200}, Block: pusht.Pose{X: 300, Y: 300}})
	}
	paths := map[int64][][2]float64{}
	s, err := Run(context.Background(), &hold{chunk: 4}, Config{Seeds: []int64{1, 2}, MaxSteps: 6, Start: start,
		Path: func(seed int64, p [][2]float64) { paths[seed] = p }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Results {
		p := paths[r.Seed]
		if len(p) != r.Steps+1 || r.Steps != 6 {
			t.Fatalf("seed %d: %d positions for %d steps", r.Seed, len(p), r.Steps)
		}
		if p[0] != [2]float64{100 + float64(r.Seed), 200} {
			t.Errorf("seed %d starts at %v", r.Seed, p[0])
		}
	}
}

// TestSubgoal: every observation carries the subgoal made from its own
// episode's environment, and subgoals without a context are refused.
func TestSubgoal(t *testing.T) {
	ctx := context.Background()
	var made atomic.Int32
	sub := func(_ context.Context, env *pusht.Env) ([]uint8, error) {
		made.Add(1)
		return env.Observe().Image, nil
	}
	h := &hold{chunk: 4}
	s, err := Run(ctx, h, Config{Seeds: []int64{1, 2}, MaxSteps: 8, Steer: &policy.Context{}, Subgoal: sub})
	if err != nil {
		t.Fatal(err)
	}
	// Two episodes of 8 steps at 2 actions per call: 4 calls each.
	if s.Chunks != 4 || made.Load() != 8 || h.subgoaled != 8 {
		t.Errorf("%d calls, %d subgoals made, %d observations with one; want 4, 8, 8", s.Chunks, made.Load(), h.subgoaled)
	}
	if _, err := Run(ctx, h, Config{Seeds: []int64{1}, Subgoal: sub}); !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("subgoals without a context: %v, want ErrBadInput", err)
	}
	failing := func(context.Context, *pusht.Env) ([]uint8, error) { return nil, errors.New("no lookahead") }
	if _, err := Run(ctx, h, Config{Seeds: []int64{1}, Steer: &policy.Context{}, Subgoal: failing}); err == nil {
		t.Error("a failing subgoal maker: no error")
	}
}
