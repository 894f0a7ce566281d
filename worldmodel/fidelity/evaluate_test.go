package fidelity

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
)

// Episodes are simulated once for all tests of the package (about a second).
var (
	simOnce sync.Once
	simEps  []*episode.Episode
)

func testEpisodes(t *testing.T) []*episode.Episode {
	simOnce.Do(func() { simEps = simEpisodes(t, 3, 90) })
	return simEps
}

func TestWindows(t *testing.T) {
	spec := copylast.PushTSpec()
	eps := func(lengths ...int) []*episode.Episode {
		var out []*episode.Episode
		for _, n := range lengths {
			e := &episode.Episode{}
			for range n {
				e.Frames = append(e.Frames, make([]uint8, spec.FrameLen()))
				e.Proprio = append(e.Proprio, []float32{0, 0})
				e.Actions = append(e.Actions, []float32{0, 0})
			}
			out = append(out, e)
		}
		return out
	}
	tests := []struct {
		name       string
		lengths    []int
		contextLen int
		cfg        Config
		want       []Window
		wantErr    error
	}{
		{"too short", []int{32}, 1, Config{}, nil, ErrNoWindows},
		{"exactly one", []int{33}, 1, Config{}, []Window{{0, 0}}, nil},
		{"every 16th", []int{70}, 1, Config{}, []Window{{0, 0}, {0, 16}, {0, 32}}, nil},
		{"full context first", []int{70}, 4, Config{}, []Window{{0, 3}, {0, 19}, {0, 35}}, nil},
		{"two episodes", []int{40, 50}, 1, Config{Stride: 10}, []Window{{0, 0}, {1, 0}, {1, 10}}, nil},
		{"capped", []int{200}, 1, Config{MaxWindows: 2}, []Window{{0, 0}, {0, 16}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec
			s.ContextLen = tc.contextLen
			got, err := Windows(eps(tc.lengths...), s, tc.cfg)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("windows %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("episode that does not fit", func(t *testing.T) {
		e := eps(40)
		e[0].Proprio[3] = []float32{1}
		if _, err := Windows(e, spec, Config{}); !errors.Is(err, ErrBadEpisode) {
			t.Errorf("err = %v, want ErrBadEpisode", err)
		}
	})
}

func TestEvaluateCopyLastEqualsBaseline(t *testing.T) {
	eps := testEpisodes(t)
	var calls []int
	rep, err := EvaluateWithBaseline(context.Background(), copylast.New(copylast.PushTSpec()), eps, Config{Batch: 2}, func(done, total int) {
		calls = append(calls, done)
		if total != 2*rep0Windows(t, eps) {
			t.Errorf("progress total %d", total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if *rep.Baseline != rep.Metrics {
		t.Errorf("copylast vs its own baseline differ:\nmodel    %+v\nbaseline %+v", rep.Metrics, *rep.Baseline)
	}
	for k, b := range rep.BeatsBaseline {
		if b {
			t.Errorf("beats_baseline[%s] = true for the baseline itself", k)
		}
	}
	if len(calls) == 0 || calls[len(calls)-1] != 2*rep.Windows || !slices.IsSorted(calls) {
		t.Errorf("progress calls %v", calls)
	}
	if rep.Episodes != 3 || rep.Windows != 12 {
		t.Errorf("episodes %d windows %d, want 3 and 12 (starts 0, 16, 32, 48 of 90 steps)", rep.Episodes, rep.Windows)
	}
	// Copying the last frame gets worse with the horizon while things move.
	m := rep.Metrics
	order := []struct {
		name     string
		a, b, c  float64
		increase bool
	}{
		{"psnr", m.PSNR1, m.PSNR8, m.PSNR32, false},
		{"ssim", m.SSIM1, m.SSIM8, m.SSIM32, false},
		{"agent error", m.AgentErrPx1, m.AgentErrPx8, m.AgentErrPx32, true},
		{"block error", m.BlockErrPx1, m.BlockErrPx8, m.BlockErrPx32, true},
	}
	for _, o := range order {
		ok := o.a > o.b && o.b > o.c
		if o.increase {
			ok = o.a < o.b && o.b < o.c
		}
		if !ok {
			t.Errorf("%s at horizons 1, 8, 32 = %.4f, %.4f, %.4f: not ordered", o.name, o.a, o.b, o.c)
		}
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("copylast on simulated episodes:\n%s", js)
}

func rep0Windows(t *testing.T, eps []*episode.Episode) int {
	w, err := Windows(eps, copylast.PushTSpec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	return len(w)
}

func TestEvaluateOracle(t *testing.T) {
	eps := testEpisodes(t)
	rep, err := EvaluateWithBaseline(context.Background(), newOracle(eps, 0, 0), eps, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := rep.Metrics
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"psnr_1 capped", m.PSNR1, PSNRCap, 0},
		{"psnr_32 capped", m.PSNR32, PSNRCap, 0},
		{"ssim_8", m.SSIM8, 1, 1e-6},
		{"agent_err_px_32", m.AgentErrPx32, 0, 0},
		// The block is read from the (real) frame: only the reader's error.
		{"block_err_px_8", m.BlockErrPx8, 0, 1.5},
		{"block_err_rad_8", m.BlockErrRad8, 0, 0.02},
		{"block_unreadable_8", m.BlockUnreadable8, 0, 0},
		{"coverage_err_32", m.CoverageErr32, 0, 0.02},
	}
	for _, c := range checks {
		if d := c.got - c.want; d > c.tol || d < -c.tol {
			t.Errorf("%s = %.6f, want %.6f ± %g", c.name, c.got, c.want, c.tol)
		}
	}
	for _, k := range []string{"psnr_1", "psnr_8", "psnr_32", "ssim_1", "ssim_8", "ssim_32", "agent_err_px_8", "agent_err_px_32", "block_err_px_8", "block_err_px_32"} {
		if !rep.BeatsBaseline[k] {
			t.Errorf("oracle does not beat the baseline on %s (%.4f vs %.4f)", k, m.Map()[k], rep.Baseline.Map()[k])
		}
	}
}

// TestEvaluateOrderingByNoise: a worse model scores worse on every metric.
func TestEvaluateOrderingByNoise(t *testing.T) {
	eps := testEpisodes(t)
	var prev *Report
	for _, level := range []struct {
		noise int
		shift float32
	}{{4, 1}, {30, 5}, {90, 20}} {
		rep, err := Evaluate(context.Background(), newOracle(eps, level.noise, level.shift), eps, Config{MaxWindows: 4}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil {
			if !(rep.PSNR8 < prev.PSNR8 && rep.SSIM8 < prev.SSIM8 && rep.AgentErrPx8 > prev.AgentErrPx8) {
				t.Errorf("noise %d: psnr %.2f ssim %.3f agent %.2f not worse than %.2f %.3f %.2f",
					level.noise, rep.PSNR8, rep.SSIM8, rep.AgentErrPx8, prev.PSNR8, prev.SSIM8, prev.AgentErrPx8)
			}
		}
		prev = &rep
	}
}

func TestEvaluateBatchSizeDoesNotMatter(t *testing.T) {
	eps := testEpisodes(t)
	m := newOracle(eps, 20, 3)
	a, err := Evaluate(context.Background(), m, eps, Config{Batch: 1, Chunk: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(context.Background(), m, eps, Config{Batch: 16, Chunk: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Noise differs per rollout, so compare what the noise does not touch.
	if a.AgentErrPx32 != b.AgentErrPx32 || a.Windows != b.Windows {
		t.Errorf("batch 1 chunk 5: %+v\nbatch 16 chunk 8: %+v", a, b)
	}
}

func TestReportJSONKeys(t *testing.T) {
	eps := testEpisodes(t)
	rep, err := EvaluateWithBaseline(context.Background(), copylast.New(copylast.PushTSpec()), eps, Config{MaxWindows: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	keys := []string{"psnr_1", "psnr_8", "psnr_32", "ssim_1", "ssim_8", "ssim_32", "agent_err_px_1", "agent_err_px_8", "agent_err_px_32",
		"block_err_px_1", "block_err_px_8", "block_err_px_32", "block_err_rad_8", "block_unreadable_8"}
	var base, beats map[string]json.RawMessage
	json.Unmarshal(top["baseline"], &base)
	json.Unmarshal(top["beats_baseline"], &beats)
	for _, k := range keys {
		if _, ok := top[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
		if _, ok := base[k]; !ok {
			t.Errorf("baseline lacks %q", k)
		}
		if _, ok := beats[k]; !ok {
			t.Errorf("beats_baseline lacks %q", k)
		}
	}
	for _, k := range []string{"episodes", "windows"} {
		if _, ok := top[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
}

// broken returns predictions of the wrong shape or fails.
type broken struct {
	worldmodel.Model
	mode string
}

type brokenRollout struct {
	worldmodel.Rollout
	mode string
}

func (b broken) Start(ctx context.Context, c [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if b.mode == "start fails" {
		return nil, worldmodel.ErrBadInput
	}
	r, err := b.Model.Start(ctx, c)
	return brokenRollout{r, b.mode}, err
}

func (b brokenRollout) Step(ctx context.Context, a [][][]float32) ([][]worldmodel.Observation, error) {
	out, err := b.Rollout.Step(ctx, a)
	if err != nil {
		return nil, err
	}
	switch b.mode {
	case "short frame":
		out[0][0].Frame = out[0][0].Frame[:10]
	case "missing episode":
		out = out[1:]
	case "step fails":
		return nil, worldmodel.ErrClosed
	}
	return out, nil
}

func TestEvaluateErrors(t *testing.T) {
	eps := testEpisodes(t)
	base := copylast.New(copylast.PushTSpec())
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		m    worldmodel.Model
		eps  []*episode.Episode
		want error
	}{
		{"start fails", context.Background(), broken{base, "start fails"}, eps, worldmodel.ErrBadInput},
		{"step fails", context.Background(), broken{base, "step fails"}, eps, worldmodel.ErrClosed},
		{"short frame", context.Background(), broken{base, "short frame"}, eps, ErrBadPrediction},
		{"missing episode", context.Background(), broken{base, "missing episode"}, eps, ErrBadPrediction},
		{"no episodes", context.Background(), base, nil, ErrNoWindows},
		{"cancelled", cancelled, base, eps, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EvaluateWithBaseline(tc.ctx, tc.m, tc.eps, Config{}, nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestBeatsDiscountsUnreadableBlocks(t *testing.T) {
	tests := []struct {
		name        string
		unreadable8 float64
		want        bool
	}{
		{name: "as readable as the baseline", unreadable8: 0.02, want: true},
		{name: "mostly unreadable", unreadable8: 0.78, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			model := Metrics{BlockErrPx8: 2, BlockUnreadable8: tt.unreadable8}
			base := Metrics{BlockErrPx8: 12, BlockUnreadable8: 0}
			if got := Beats(model, base)["block_err_px_8"]; got != tt.want {
				t.Fatalf("beats block_err_px_8 = %v, want %v", got, tt.want)
			}
		})
	}
}
