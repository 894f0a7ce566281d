package judge_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/judgetest"
	"dreamrank/foundation/pushl"
	"dreamrank/policy/expert"
)

func hex(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// pushlOptions opens the overlap judge on PushL's colours.
func pushlOptions() judge.Options {
	return judge.Options{judge.OptObject: hex(pushl.BlockColour), judge.OptTarget: hex(pushl.TargetColour)}
}

// writeReference saves PushL's target frame as a PNG.
func writeReference(t *testing.T, size int) string {
	t.Helper()
	pix, err := pushl.RenderTarget(size)
	if err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range size * size {
		img.Set(i%size, i/size, color.RGBA{pix[3*i], pix[3*i+1], pix[3*i+2], 255})
	}
	path := filepath.Join(t.TempDir(), "target.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOverlapContract(t *testing.T) {
	eps, _, err := judge.Simulated(context.Background(), 100000, 2, []expert.Options{{Scene: "pushl", MaxSteps: 12}})
	if err != nil {
		t.Fatal(err)
	}
	withRef := pushlOptions()
	withRef[judge.OptReference] = writeReference(t, pushl.ObsSize)
	for name, opts := range map[string]judge.Options{"from the episode": pushlOptions(), "reference frame": withRef} {
		t.Run(name, func(t *testing.T) {
			j, err := judge.Open(context.Background(), judge.OverlapName, opts)
			if err != nil {
				t.Fatal(err)
			}
			judgetest.Contract(t, j, eps)
		})
	}
}

func TestOverlapOptions(t *testing.T) {
	with := func(k, v string) judge.Options {
		o := pushlOptions()
		o[k] = v
		return o
	}
	tests := []struct {
		name string
		opts judge.Options
	}{
		{"no colours", judge.Options{}},
		{"no target", judge.Options{judge.OptObject: "#ff8c00"}},
		{"bad colour", with(judge.OptObject, "orange")},
		{"bad tolerance", with(judge.OptTolerance, "-3")},
		{"threshold of 1", with(judge.OptThreshold, "1")},
		{"missing reference", with(judge.OptReference, filepath.Join(t.TempDir(), "none.png"))},
		{"unknown option", with("colour", "red")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := judge.Open(context.Background(), judge.OverlapName, tc.opts); !errors.Is(err, judge.ErrBadInput) {
				t.Errorf("got %v, want ErrBadInput", err)
			}
		})
	}
	j, err := judge.Open(context.Background(), judge.OverlapName, with(judge.OptReference, writeReference(t, 48)))
	if err != nil {
		t.Fatal(err)
	}
	eps, _, err := judge.Simulated(context.Background(), 1, 1, []expert.Options{{Scene: "pushl", MaxSteps: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Judge(context.Background(), eps); !errors.Is(err, judge.ErrBadInput) {
		t.Errorf("48 px reference on 96 px frames: %v, want ErrBadInput", err)
	}
}

// TestOverlapAgainstPushL judges whole simulated PushL expert episodes
// against the simulator's exact coverage, the target region read from a
// reference frame or from each episode's own frames. The latter misses
// target pixels the block hides in every frame (the quality-1 episodes,
// cut at 60 steps, leave part of it covered throughout), hence its looser
// bounds.
func TestOverlapAgainstPushL(t *testing.T) {
	if testing.Short() {
		t.Skip("plays expert episodes")
	}
	eps, truth, err := judge.Simulated(context.Background(), 100000, 4, []expert.Options{{Scene: "pushl"}, {Scene: "pushl", Quality: 1, MaxSteps: 60}})
	if err != nil {
		t.Fatal(err)
	}
	withRef := pushlOptions()
	withRef[judge.OptReference] = writeReference(t, pushl.ObsSize)
	tests := []struct {
		name     string
		opts     judge.Options
		mae, p95 float64
	}{
		{"reference frame", withRef, 0.02, 0.04},
		{"from the episode", pushlOptions(), 0.03, 0.08},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := judge.Open(context.Background(), judge.OverlapName, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			verdicts, err := j.Judge(context.Background(), eps)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := judge.Compare(verdicts, truth, pushl.SuccessCoverage)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d frames: coverage MAE %.4f, p95 %.4f, max %.4f; episode calls %+v", rep.Frames, rep.CoverageMAE, rep.CoverageP95, rep.CoverageMax, rep.EpisodeSuccess)
			if rep.CoverageMAE > tc.mae || rep.CoverageP95 > tc.p95 || rep.Unreadable != 0 {
				t.Errorf("coverage MAE %.4f, p95 %.4f, %d unreadable frames; want at most %.2f, %.2f, 0", rep.CoverageMAE, rep.CoverageP95, rep.Unreadable, tc.mae, tc.p95)
			}
			if c := rep.EpisodeSuccess; c.TP < 1 || c.TN < 1 {
				t.Errorf("episode calls %+v: want successes and failures called right", c)
			}
		})
	}
}
