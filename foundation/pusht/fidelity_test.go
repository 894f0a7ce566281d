package pusht

import (
	"context"
	"dreamrank/scenarios"
	"encoding/json"
	"math"
	"os"
	"testing"
	"time"
)

// loadReplay reads the PushT replay dataset, or skips loudly without it.
func loadReplay(t *testing.T, ctx context.Context) ReplayData {
	t.Helper()
	p := scenarios.PushTDataset()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("SKIPPING PushT FIDELITY TEST: replay buffer %s is absent (%v; set DREAMRANK_PUSHT_ZARR); "+
			"the simulator is NOT being checked against the recorded demonstrations", p, err)
	}
	d, err := LoadReplayData(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestFidelityAgainstReplayDataset checks the simulator against the human
// demonstrations it has to stand in for (thresholds from the brief; a
// reference implementation reached 0.000 px, 0.13/0.44 px, 0.001/0.0044 rad).
func TestFidelityAgainstReplayDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPING PushT FIDELITY TEST in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := loadReplay(t, ctx)
	start := time.Now()
	rep, err := MeasureFidelity(ctx, d)
	if err != nil {
		t.Fatalf("MeasureFidelity: %v", err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("fidelity (%s):\n%s", time.Since(start).Round(time.Millisecond), js)

	checks := []struct {
		name  string
		value float64
		limit float64
	}{
		{"agent_replay_median_px", rep.AgentReplayMedianPx, 0.01},
		{"block_step_median_px", rep.BlockStepMedianPx, 0.3},
		{"block_step_p95_px", rep.BlockStepP95Px, 1},
		{"block_step_median_rad", rep.BlockStepMedianRad, 0.003},
		// The renderer reproduces the recorded frames except for Chipmunk's
		// red contact-point marks, which we do not draw (about 0.001).
		{"frame_mae", rep.FrameMAE, 0.05},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !(c.value < c.limit) { // also fails on NaN
				t.Errorf("%s = %g, want < %g", c.name, c.value, c.limit)
			}
		})
	}
	if rep.Episodes != 206 || rep.StepsBlockMoved < 10000 || rep.FramesCompared != len(d.State) {
		t.Errorf("coverage of the comparison: %+v", rep)
	}
}

func TestMeasureFidelityRejectsInconsistentData(t *testing.T) {
	tests := []struct {
		name string
		d    ReplayData
	}{
		{"no episodes", ReplayData{}},
		{"actions missing", ReplayData{EpisodeEnds: []int64{2}, State: make([][5]float32, 2), Action: make([][2]float32, 1)}},
		{"ends past data", ReplayData{EpisodeEnds: []int64{3}, State: make([][5]float32, 2), Action: make([][2]float32, 2)}},
		{"ends not increasing", ReplayData{EpisodeEnds: []int64{2, 2}, State: make([][5]float32, 2), Action: make([][2]float32, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MeasureFidelity(context.Background(), tc.d); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestMeasureFidelitySelfConsistent records episodes from the simulator
// itself and measures them: everything must agree up to the float32
// rounding of the record. It needs no dataset.
func TestMeasureFidelitySelfConsistent(t *testing.T) {
	var d ReplayData
	var frames []float32
	env := New(Config{})
	for _, seed := range []int64{0, 1, 2} {
		env.ResetLegacy(seed)
		for i := 0; i < 40; i++ {
			s := env.State()
			// Walk the pusher 15 px per step towards the block's centre.
			c := s.Block.Apply(blockCoG)
			dx, dy := c.X-s.Agent.X, c.Y-s.Agent.Y
			n := math.Hypot(dx, dy)
			target := Vec2{s.Agent.X + 15*dx/n, s.Agent.Y + 15*dy/n}
			d.State = append(d.State, [5]float32{float32(s.Agent.X), float32(s.Agent.Y), float32(s.Block.X), float32(s.Block.Y), float32(s.Block.Angle)})
			d.Action = append(d.Action, [2]float32{float32(target.X), float32(target.Y)})
			for _, v := range env.Observe().Image {
				frames = append(frames, float32(v))
			}
			// Record actions that float32 represents exactly, as the dataset does.
			env.Step(Vec2{float64(float32(target.X)), float64(float32(target.Y))})
		}
		d.EpisodeEnds = append(d.EpisodeEnds, int64(len(d.State)))
	}
	const frameLen = ObsSize * ObsSize * 3
	d.Frames = func(ctx context.Context, start, end int, dst []float32) error {
		copy(dst, frames[start*frameLen:end*frameLen])
		return ctx.Err()
	}
	rep, err := MeasureFidelity(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("self-consistency: %+v", rep)
	if rep.Episodes != 3 || rep.FramesCompared != 120 || rep.StepsBlockMoved < 20 {
		t.Fatalf("report %+v", rep)
	}
	if rep.AgentReplayP95Px > 1e-3 || rep.FrameMAE > 0.01 {
		t.Errorf("replaying our own episodes: %+v", rep)
	}
	// One-step block predictions restart contacts cold (no warm-start
	// impulses, block at rest), so they are close but not exact; this
	// pusher pushes harder than the human demonstrations do.
	if rep.BlockStepMedianPx > 1 || rep.BlockStepMedianRad > 0.01 {
		t.Errorf("block one-step errors on our own episodes: %+v", rep)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := MeasureFidelity(ctx, d); err == nil {
		t.Error("cancelled context: no error")
	}
}
