package imagine

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/policy"
	"dreamrank/worldmodel"
)

// The fakes live on a line: the world model moves the pusher's x to the
// action, the policy steps x forward by its speed, and the judge calls
// success once x reaches the goal.
const (
	goal  = 100
	frame = 4 * 4 * 3
)

type linePolicy struct{ speed float32 }

func (p linePolicy) Spec() policy.Spec {
	return policy.Spec{FrameH: 4, FrameW: 4, Channels: 3, ProprioDim: 1, ActionDim: 1, ChunkLen: 4}
}

func (p linePolicy) Act(_ context.Context, obs []policy.Observation, _ []policy.Context) ([]policy.Chunk, error) {
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		for k := 1; k <= 4; k++ {
			out[i].Actions = append(out[i].Actions, []float32{o.Proprio[0] + p.speed*float32(k)})
		}
	}
	return out, nil
}

type lineModel struct {
	mu     sync.Mutex
	starts []int // batch size of every Start
}

func (m *lineModel) Spec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: 4, FrameW: 4, Channels: 3, ProprioDim: 1, ActionDim: 1, ContextLen: 2}
}

func (m *lineModel) Start(_ context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	m.mu.Lock()
	m.starts = append(m.starts, len(contexts))
	m.mu.Unlock()
	return &lineRollout{n: len(contexts)}, nil
}

type lineRollout struct {
	n      int
	closed bool
}

func (r *lineRollout) Step(_ context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if len(actions) != r.n {
		return nil, worldmodel.ErrBadInput
	}
	out := make([][]worldmodel.Observation, r.n)
	for i, chunk := range actions {
		for _, a := range chunk {
			out[i] = append(out[i], worldmodel.Observation{Frame: make([]uint8, frame), Proprio: []float32{a[0]}})
		}
	}
	return out, nil
}

func (r *lineRollout) Close() error { r.closed = true; return nil }

type lineJudge struct{}

func (lineJudge) Judge(_ context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	out := make([]judge.Verdict, len(eps))
	for i, e := range eps {
		v := judge.Verdict{SuccessStep: -1}
		for t, p := range e.Proprio {
			r := min(1, float64(p[0])/goal)
			v.Reward = append(v.Reward, r)
			v.MaxReward = max(v.MaxReward, r)
			if r >= 1 && !v.Success {
				v.Success, v.SuccessStep = true, t
			}
		}
		out[i] = v
	}
	return out, nil
}

// startAt begins seed s at x = s.
func startAt(_ context.Context, s int64) (worldmodel.Observation, error) {
	return worldmodel.Observation{Frame: make([]uint8, frame), Proprio: []float32{float32(s)}}, nil
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name      string
		unit      Unit
		speed     float32
		success   []bool
		toSuccess []int
		steps     []int
		starts    []int
	}{
		{
			name: "stops at success, restarts the rollout when half stopped",
			unit: Unit{Seeds: []int64{0, 50, 90, 96}, Horizon: 300}, speed: 10,
			// 10, 5, 1 and 1 steps to reach 100 at 10 per step, 2 per round.
			success: []bool{true, true, true, true}, toSuccess: []int{10, 5, 1, 1}, steps: []int{10, 5, 1, 1},
			starts: []int{4, 2, 1},
		},
		{
			name: "horizon caps failures", unit: Unit{Seeds: []int64{0, 95}, Horizon: 7, Execute: 3}, speed: 1,
			success: []bool{false, true}, toSuccess: []int{-1, 5}, steps: []int{7, 5}, starts: []int{2, 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &lineModel{}
			rep, err := Run(context.Background(), tc.unit, linePolicy{tc.speed}, m, lineJudge{}, startAt, nil)
			if err != nil {
				t.Fatal(err)
			}
			var succ []bool
			var to, steps []int
			for _, o := range rep.Outcomes {
				succ, to, steps = append(succ, o.Success), append(to, o.StepsToSuccess), append(steps, o.Steps)
			}
			if !reflect.DeepEqual(succ, tc.success) || !reflect.DeepEqual(to, tc.toSuccess) || !reflect.DeepEqual(steps, tc.steps) {
				t.Errorf("success %v to %v steps %v; want %v %v %v", succ, to, steps, tc.success, tc.toSuccess, tc.steps)
			}
			if !reflect.DeepEqual(m.starts, tc.starts) {
				t.Errorf("rollout batch sizes %v, want %v", m.starts, tc.starts)
			}
			want := 0
			for _, s := range tc.success {
				if s {
					want++
				}
			}
			if rep.Summary.Successes != want || rep.Summary.Episodes != len(tc.success) {
				t.Errorf("summary %+v", rep.Summary)
			}
		})
	}
}

func TestRunKeepsFramesAndIsReproducible(t *testing.T) {
	u := Unit{Seeds: []int64{0, 40}, Horizon: 300, KeepFrames: true, KeepProprio: true}
	a, err := Run(context.Background(), u, linePolicy{10}, &lineModel{}, lineJudge{}, startAt, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Run(context.Background(), u, linePolicy{10}, &lineModel{}, lineJudge{}, startAt, nil)
	for i, o := range a.Outcomes {
		if len(o.Frames) != o.Steps+1 {
			t.Errorf("seed %d: %d frames for %d steps (+1 real first frame)", o.Seed, len(o.Frames), o.Steps)
		}
		if len(o.Proprio) != o.Steps+1 || o.Proprio[0][0] != float32(o.Seed) || o.Proprio[o.Steps][0] < goal {
			t.Errorf("seed %d: proprio %v for %d steps", o.Seed, o.Proprio, o.Steps)
		}
		if !reflect.DeepEqual(o.Result, b.Outcomes[i].Result) {
			t.Errorf("seed %d: %+v then %+v", o.Seed, o.Result, b.Outcomes[i].Result)
		}
	}
}

func TestRunRejectsMismatch(t *testing.T) {
	p := linePolicy{1}
	m := &wideModel{}
	if _, err := Run(context.Background(), Unit{Seeds: []int64{1}, Horizon: 5}, p, m, lineJudge{}, startAt, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("err %v", err)
	}
}

type wideModel struct{ lineModel }

func (m *wideModel) Spec() worldmodel.Spec {
	s := m.lineModel.Spec()
	s.ActionDim = 2
	return s
}
