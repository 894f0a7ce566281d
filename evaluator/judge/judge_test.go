package judge

import (
	"context"
	"errors"
	"math"
	"testing"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
)

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		coverage []float64
		reward   []float64
		max      float64
		success  bool
		step     int
	}{
		{"empty", nil, []float64{}, 0, false, -1},
		{"never", []float64{0, 0.475, 0.95}, []float64{0, 0.5, 1}, 1, false, -1},
		{"first success counts", []float64{0.2, 0.96, 0.5, 0.99}, []float64{0.2 / 0.95, 1, 0.5 / 0.95, 1}, 1, true, 1},
		{"clipped below", []float64{-0.1}, []float64{0}, 0, false, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Score(tc.coverage, 0.95)
			if v.Success != tc.success || v.SuccessStep != tc.step || math.Abs(v.MaxReward-tc.max) > 1e-12 {
				t.Errorf("got success %v step %d max %v, want %v %d %v", v.Success, v.SuccessStep, v.MaxReward, tc.success, tc.step, tc.max)
			}
			for i := range tc.reward {
				if math.Abs(v.Reward[i]-tc.reward[i]) > 1e-12 {
					t.Errorf("reward[%d] = %v, want %v", i, v.Reward[i], tc.reward[i])
				}
			}
		})
	}
}

func TestCompare(t *testing.T) {
	// Two episodes, hand-computed: errors 0.1, 0, 0.2 | 0, 0.495.
	verdicts := []Verdict{
		Score([]float64{0.1, 0.5, 0.96}, 0.95),
		Score([]float64{0.2, 0.97}, 0.95),
	}
	verdicts[0].Unreadable = 1
	truth := [][]float64{{0.0, 0.5, 0.76}, {0.2, 0.475}}
	rep, err := Compare(verdicts, truth, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("MAE", rep.CoverageMAE, 0.795/5)
	near("median", rep.CoverageMedian, 0.1)
	near("p95", rep.CoverageP95, 0.2+0.8*0.295) // sorted 0,0,.1,.2,.495: h=3.8
	near("max", rep.CoverageMax, 0.495)
	// Max rewards: judged 1, 1; true 0.8, 0.5.
	near("max reward MAE", rep.MaxRewardMAE, (0.2+0.5)/2)
	if want := (Confusion{TP: 0, FP: 2, FN: 0, TN: 3}); rep.FrameSuccess != want {
		t.Errorf("frame confusion %+v, want %+v", rep.FrameSuccess, want)
	}
	if want := (Confusion{FP: 2}); rep.EpisodeSuccess != want {
		t.Errorf("episode confusion %+v, want %+v", rep.EpisodeSuccess, want)
	}
	near("episode accuracy", rep.EpisodeAccuracy, 0)
	// True best coverages 0.76 and 0.475 are both clear of 0.95 ± 0.01.
	if want := (Confusion{FP: 2}); rep.EpisodeSuccessClear != want {
		t.Errorf("clear episode confusion %+v, want %+v", rep.EpisodeSuccessClear, want)
	}
	near("frame accuracy", rep.FrameAccuracy, 0.6)
	if rep.Unreadable != 1 || rep.Frames != 5 || rep.Episodes != 2 {
		t.Errorf("counts %+v", rep)
	}
	// An episode whose true best coverage is within ClearBand of the
	// threshold counts in EpisodeSuccess but not in EpisodeSuccessClear.
	rep, err = Compare([]Verdict{Score([]float64{0.94}, 0.95)}, [][]float64{{0.955}}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if rep.EpisodeSuccess != (Confusion{FN: 1}) || rep.EpisodeSuccessClear.N() != 0 {
		t.Errorf("near the threshold: %+v, clear %+v", rep.EpisodeSuccess, rep.EpisodeSuccessClear)
	}
	if _, err := Compare(verdicts, truth[:1], 0.95); !errors.Is(err, ErrBadInput) {
		t.Errorf("mismatched lengths: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, PushTName, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, PushTName, Options{OptWorkers: "0"}); !errors.Is(err, ErrBadInput) {
		t.Errorf("workers=0: %v", err)
	}
	if _, err := Open(ctx, PushTName, Options{OptMargin: "-0.01"}); !errors.Is(err, ErrBadInput) {
		t.Errorf("negative margin: %v", err)
	}
	if j, err := Open(ctx, PushTName, Options{OptMargin: "0.005", OptWorkers: "2"}); err != nil || j.(PushT).Margin != 0.005 {
		t.Errorf("margin option: %v %+v", err, j)
	}
	if _, err := Open(ctx, PushTName, Options{"colour": "red"}); !errors.Is(err, ErrBadInput) {
		t.Errorf("unknown option: %v", err)
	}
	_, err := Open(ctx, "no-such-judge", nil)
	if !errors.Is(err, ErrUnknownJudge) || errcode.CodeOf(err) != errcode.UnknownJudge {
		t.Errorf("unknown judge: %v (code %s)", err, errcode.CodeOf(err))
	}
}

func TestPushTBadInput(t *testing.T) {
	frame := make([]uint8, 96*96*3)
	for _, tc := range []struct {
		name string
		ep   Episode
	}{
		{"no frames", Episode{FrameH: 96, FrameW: 96, Channels: 3}},
		{"short frame", Episode{Frames: [][]uint8{frame[:10]}, FrameH: 96, FrameW: 96, Channels: 3}},
		{"not square", Episode{Frames: [][]uint8{frame[:96*48*3]}, FrameH: 48, FrameW: 96, Channels: 3}},
		{"proprio rows", Episode{Frames: [][]uint8{frame}, Proprio: [][]float32{{1, 2}, {3, 4}}, FrameH: 96, FrameW: 96, Channels: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := (PushT{}).Judge(context.Background(), []Episode{tc.ep}); !errors.Is(err, ErrBadInput) {
				t.Errorf("got %v, want ErrBadInput", err)
			}
		})
	}
}

// simulated plays expert episodes capped at maxSteps.
func simulated(t *testing.T, seeds []int64, maxSteps int) ([]Episode, [][]float64) {
	t.Helper()
	var eps []Episode
	var truth [][]float64
	for _, seed := range seeds {
		e, tr, err := Simulated(context.Background(), seed, 1, []expert.Options{{MaxSteps: maxSteps}})
		if err != nil {
			t.Fatal(err)
		}
		eps, truth = append(eps, e...), append(truth, tr...)
	}
	return eps, truth
}

// TestPushTAgainstSimulator judges simulated expert episodes and checks the
// verdicts against the simulator's ground truth.
func TestPushTAgainstSimulator(t *testing.T) {
	if testing.Short() {
		t.Skip("plays expert episodes")
	}
	eps, truth := simulated(t, []int64{100000, 100001, 100002}, 120)
	j, err := Open(context.Background(), PushTName, nil)
	if err != nil {
		t.Fatal(err)
	}
	verdicts, err := j.Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Compare(verdicts, truth, pusht.SuccessCoverage)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", rep)
	// The pose reader is within about a pixel on rendered frames, which is
	// well under 2% coverage; the calls may differ only in the last frames
	// before success, where coverage is within that of 0.95.
	if rep.CoverageMAE > 0.02 || rep.CoverageP95 > 0.05 {
		t.Errorf("coverage MAE %.4f p95 %.4f", rep.CoverageMAE, rep.CoverageP95)
	}
	if rep.Unreadable != 0 {
		t.Errorf("%d unreadable rendered frames", rep.Unreadable)
	}
	for i, v := range verdicts {
		tv := Score(truth[i], pusht.SuccessCoverage)
		if v.Success != tv.Success {
			t.Errorf("episode %d: judged success %v, true %v (max coverage true %.4f)", i, v.Success, tv.Success, slicesMax(truth[i]))
		}
		if v.Success && tv.Success && abs(v.SuccessStep-tv.SuccessStep) > 2 {
			t.Errorf("episode %d: success at step %d, true %d", i, v.SuccessStep, tv.SuccessStep)
		}
	}
}

// TestPushTUnreadable blanks frames: a blank frame keeps the last pose, and
// blank frames before any readable one score 0.
func TestPushTUnreadable(t *testing.T) {
	eps, truth := simulated(t, []int64{100003}, 6)
	ep := eps[0]
	blank := make([]uint8, len(ep.Frames[0]))
	for i := range blank {
		blank[i] = 255
	}
	ep.Frames[0], ep.Frames[3] = blank, blank
	v, err := (PushT{}).Judge(context.Background(), []Episode{ep})
	if err != nil {
		t.Fatal(err)
	}
	got := v[0]
	if got.Unreadable != 2 {
		t.Errorf("unreadable %d, want 2", got.Unreadable)
	}
	if got.Coverage[0] != 0 {
		t.Errorf("coverage before any readable frame %v, want 0", got.Coverage[0])
	}
	if got.Coverage[3] != got.Coverage[2] {
		t.Errorf("blank frame 3 scored %v, want frame 2's %v carried", got.Coverage[3], got.Coverage[2])
	}
	if math.Abs(got.Coverage[4]-truth[0][4]) > 0.02 {
		t.Errorf("frame 4 after the blank: %v, true %v", got.Coverage[4], truth[0][4])
	}
}

// TestPushTMargin: a margin calls success earlier, never later, and leaves
// rewards alone.
func TestPushTMargin(t *testing.T) {
	eps, _ := simulated(t, []int64{100001}, 300)
	plain, err := (PushT{}).Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := (PushT{Margin: 0.05}).Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	p, w := plain[0], wide[0]
	if !w.Success || (p.Success && w.SuccessStep > p.SuccessStep) {
		t.Errorf("margin 0.05: success %v at %d; without: %v at %d", w.Success, w.SuccessStep, p.Success, p.SuccessStep)
	}
	if w.SuccessStep >= 0 && w.Coverage[w.SuccessStep] <= 0.9 {
		t.Errorf("called at coverage %v", w.Coverage[w.SuccessStep])
	}
	if w.MaxReward != p.MaxReward {
		t.Errorf("margin changed the max reward: %v vs %v", w.MaxReward, p.MaxReward)
	}
}

func TestPushTCancelled(t *testing.T) {
	eps, _ := simulated(t, []int64{100004}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (PushT{Workers: 2}).Judge(ctx, []Episode{eps[0], eps[0]}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func slicesMax(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
