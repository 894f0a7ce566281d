package fidelity

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/scenarios"
)

// replayEpisodes converts the first n episodes of the human PushT
// demonstrations, or skips loudly without them.
func replayEpisodes(t *testing.T, ctx context.Context, n int) []*episode.Episode {
	t.Helper()
	p := scenarios.PushTDataset()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("SKIPPING FIDELITY DATASET TEST: replay buffer %s is absent (%v; set %s)", p, err, scenarios.PushTDatasetEnv)
	}
	d, err := pusht.LoadReplayData(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	const frameLen = pusht.ObsSize * pusht.ObsSize * 3
	var out []*episode.Episode
	start := 0
	for i := 0; i < n && i < len(d.EpisodeEnds); i++ {
		end := int(d.EpisodeEnds[i])
		buf := make([]float32, (end-start)*frameLen)
		if err := d.Frames(ctx, start, end, buf); err != nil {
			t.Fatal(err)
		}
		e := &episode.Episode{Meta: episode.Meta{FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3}}
		for s := start; s < end; s++ {
			f := make([]uint8, frameLen)
			for k := range f {
				f[k] = uint8(buf[(s-start)*frameLen+k] + 0.5)
			}
			st := d.State[s]
			e.Frames = append(e.Frames, f)
			e.Proprio = append(e.Proprio, []float32{st[0], st[1]})
			e.Actions = append(e.Actions, []float32{d.Action[s][0], d.Action[s][1]})
			e.GroundTruth = append(e.GroundTruth, st[:])
		}
		out = append(out, e)
		start = end
	}
	return out
}

// TestEvaluateOnReplayData runs the oracle against the baseline on recorded
// human episodes: the oracle's block error is the pose reader's alone.
func TestEvaluateOnReplayData(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPING FIDELITY DATASET TEST in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eps := replayEpisodes(t, ctx, 4)
	rep, err := EvaluateWithBaseline(ctx, newOracle(eps, 0, 0), eps, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("oracle vs copylast on 4 recorded episodes:\n%s", js)
	if rep.BlockErrPx32 > 1.5 || rep.BlockUnreadable8 > 0 {
		t.Errorf("oracle block error %.3f px, unreadable %.3f: the pose reader misreads real frames", rep.BlockErrPx32, rep.BlockUnreadable8)
	}
	if !rep.BeatsBaseline["block_err_px_32"] || !rep.BeatsBaseline["psnr_32"] {
		t.Errorf("oracle does not beat copylast: %v", rep.BeatsBaseline)
	}
}
