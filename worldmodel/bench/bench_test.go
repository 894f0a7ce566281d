package bench

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
)

// fast keeps tests short: tiny timings and small sgemm sizes.
func fast() Config {
	return Config{Duration: 15 * time.Millisecond, MinCalls: 3, Warmup: 1, PeakSizes: []int{64, 128}, PeakDuration: 10 * time.Millisecond}
}

// fakeModel sleeps per Step call: a fixed overhead plus a cost per
// imagined frame, so batching pays off. It counts FLOPs and refuses
// rollouts longer than maxSteps, like a model with a bounded horizon.
type fakeModel struct {
	perCall, perFrame time.Duration
	flops             float64
	maxSteps          int
	failStart         bool
}

func (f *fakeModel) Spec() worldmodel.Spec { return copylast.PushTSpec() }
func (f *fakeModel) FLOPsPerStep() float64 { return f.flops }

func (f *fakeModel) Start(_ context.Context, c [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if f.failStart {
		return nil, worldmodel.ErrBadInput
	}
	return &fakeRollout{f: f, batch: len(c)}, nil
}

type fakeRollout struct {
	f      *fakeModel
	batch  int
	steps  int
	closed bool
}

func (r *fakeRollout) Step(ctx context.Context, a [][][]float32) ([][]worldmodel.Observation, error) {
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	r.steps += len(a[0])
	if r.f.maxSteps > 0 && r.steps > r.f.maxSteps {
		return nil, worldmodel.ErrClosed
	}
	time.Sleep(r.f.perCall + time.Duration(r.batch*len(a[0]))*r.f.perFrame)
	out := make([][]worldmodel.Observation, r.batch)
	for i := range out {
		out[i] = make([]worldmodel.Observation, len(a[0]))
	}
	return out, nil
}

func (r *fakeRollout) Close() error { r.closed = true; return nil }

func TestRunFakeModelWithFLOPs(t *testing.T) {
	m := &fakeModel{perCall: 2 * time.Millisecond, perFrame: 5 * time.Microsecond, flops: 2e8}
	rep, err := Run(context.Background(), m, fast())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s", js)
	var got []int
	for _, b := range rep.Batches {
		got = append(got, b.Batch)
		if b.Calls < 3 || b.Frames != b.Calls*8*b.Batch {
			t.Errorf("batch %d: %d calls, %d frames", b.Batch, b.Calls, b.Frames)
		}
	}
	if !slices.Equal(got, []int{1, 2, 4, 8, 16, 32}) {
		t.Errorf("batches %v", got)
	}
	// With 2 ms per call and 5 µs per frame, batch 32 wins by far.
	if rep.BestBatch != 32 || !(rep.FPSBest > 4*rep.FPSBatch1) {
		t.Errorf("best batch %d at %.0f fps, batch 1 %.0f fps", rep.BestBatch, rep.FPSBest, rep.FPSBatch1)
	}
	if want := 2e8 * rep.FPSBest / 1e9; math.Abs(rep.GFLOPSBest-want) > 1e-9*want {
		t.Errorf("gflops_best %.3f, want flops x fps = %.3f", rep.GFLOPSBest, want)
	}
	if !(rep.SgemmPeakGFLOPS > 0) || len(rep.SgemmBySize) != 2 {
		t.Fatalf("sgemm peak %.2f (%v)", rep.SgemmPeakGFLOPS, rep.SgemmBySize)
	}
	if want := 100 * rep.GFLOPSBest / rep.SgemmPeakGFLOPS; math.Abs(rep.PercentOfPeak-want) > 1e-9 {
		t.Errorf("percent_of_peak %.4f, want %.4f", rep.PercentOfPeak, want)
	}
}

func TestRunCopyLastHasNoFLOPs(t *testing.T) {
	cfg := fast()
	cfg.SkipPeak = true
	cfg.Batches = []int{4}
	rep, err := Run(context.Background(), copylast.New(copylast.PushTSpec()), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FPSBatch1 <= 0 || rep.FPSBest <= 0 || len(rep.Batches) != 2 {
		t.Errorf("fps batch1 %.0f best %.0f over %d batch sizes", rep.FPSBatch1, rep.FPSBest, len(rep.Batches))
	}
	for name, v := range map[string]float64{"gflops_best": rep.GFLOPSBest, "flops_per_step": rep.FLOPsPerStep, "sgemm_peak_gflops": rep.SgemmPeakGFLOPS, "percent_of_peak": rep.PercentOfPeak} {
		if v != -1 {
			t.Errorf("%s = %v, want -1 (not measured)", name, v)
		}
	}
	if rep.Model["backend"] != copylast.Name {
		t.Errorf("model description %v", rep.Model)
	}
}

// TestRunRestartsLongRollouts: timing more steps than one rollout may hold
// restarts the rollout instead of failing.
func TestRunRestartsLongRollouts(t *testing.T) {
	cfg := fast()
	cfg.SkipPeak, cfg.Batches, cfg.MinCalls = true, []int{2}, 2*MaxRolloutSteps/8
	m := &fakeModel{maxSteps: MaxRolloutSteps}
	if _, err := Run(context.Background(), m, cfg); err != nil {
		t.Fatal(err)
	}
}

func TestRunErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		m    worldmodel.Model
		cfg  func(*Config)
		want error
	}{
		{"batch zero", context.Background(), &fakeModel{}, func(c *Config) { c.Batches = []int{0} }, ErrBadConfig},
		{"start fails", context.Background(), &fakeModel{failStart: true}, nil, worldmodel.ErrBadInput},
		{"rollout too short", context.Background(), &fakeModel{maxSteps: 4}, nil, worldmodel.ErrClosed},
		{"cancelled", cancelled, &fakeModel{}, nil, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := fast()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			if _, err := Run(tc.ctx, tc.m, cfg); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReportJSONKeys(t *testing.T) {
	cfg := fast()
	cfg.Batches = []int{2}
	rep, err := Run(context.Background(), &fakeModel{flops: 1e6}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"fps_batch1", "best_batch", "fps_best", "gflops_best", "sgemm_peak_gflops", "percent_of_peak", "batches"} {
		if _, ok := top[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
}

// refModel is a fast model whose reference implementation is slower.
type refModel struct {
	*fakeModel
	ref *fakeModel
}

func (r refModel) Reference() worldmodel.Model { return r.ref }

func TestRunBaseline(t *testing.T) {
	m := refModel{
		fakeModel: &fakeModel{perCall: time.Millisecond, perFrame: 5 * time.Microsecond, flops: 1e8},
		ref:       &fakeModel{perCall: 3 * time.Millisecond, perFrame: 20 * time.Microsecond, flops: 1e8},
	}
	cfg := fast()
	cfg.Batches = []int{4, 16}
	rep, err := Run(context.Background(), m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Baseline
	if b == nil {
		t.Fatal("no baseline for a Referencer")
	}
	var got []int
	for _, r := range b.Batches {
		got = append(got, r.Batch)
	}
	// Batch 1, the default baseline batches and the model's best batch.
	want := []int{1, 2, 4, 8}
	if !slices.Contains(want, rep.BestBatch) {
		want = append(want, rep.BestBatch)
	}
	if !slices.Equal(got, want) {
		t.Errorf("baseline batches %v, want %v", got, want)
	}
	if rep.SpeedupBatch1 <= 1 || rep.SpeedupBest <= 1 || b.PercentOfPeak <= 0 || b.PercentOfPeak >= rep.PercentOfPeak {
		t.Errorf("speedups %v %v, baseline %.2f%% vs %.2f%% of peak", rep.SpeedupBatch1, rep.SpeedupBest, b.PercentOfPeak, rep.PercentOfPeak)
	}

	cfg.SkipBaseline = true
	if rep, err = Run(context.Background(), m, cfg); err != nil || rep.Baseline != nil || rep.SpeedupBest != -1 {
		t.Errorf("SkipBaseline: baseline %v, speedup %v, err %v", rep.Baseline, rep.SpeedupBest, err)
	}
}
