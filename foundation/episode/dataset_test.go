package episode

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/foundation/video"
	"dreamrank/foundation/zarr"
	"dreamrank/scenarios"
)

// pushtPath finds the shared PushT replay buffer or skips loudly.
func pushtPath(t testing.TB) string {
	p := scenarios.PushTDataset()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("SKIPPING DATASET TEST: PushT replay buffer not found at %s (set DREAMRANK_PUSHT_ZARR): %v", p, err)
	}
	return p
}

// TestImportPushT imports the first three human demonstrations with videos
// and checks them against the zarr arrays and the video against the frames.
func TestImportPushT(t *testing.T) {
	ctx := context.Background()
	path := pushtPath(t)
	s := openStore(t)
	rep, err := ImportReplayBuffer(ctx, s, path, ImportOptions{Limit: 3, Video: video.WriteMP4}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source != "pusht_cchi_v7_replay" || rep.Imported != 3 || rep.NonIntegralPixels != 0 || rep.ClampedPixels != 0 {
		t.Fatalf("report %+v", rep)
	}
	g, _ := zarr.OpenGroup(path)
	img, _ := g.Array("data/img")
	state, _ := g.Array("data/state")
	wantSteps := []int{161, 118, 141} // episode_ends 161, 279, 420
	start := 0
	for i, id := range rep.IDs {
		e, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if e.Steps != wantSteps[i] || e.FrameH != 96 || e.FrameW != 96 || e.Channels != 3 || e.Source != "pusht_cchi_v7_replay" {
			t.Fatalf("episode %d: %+v", i, e.Meta)
		}
		px, _ := img.Float32Rows(ctx, start, start+e.Steps)
		st, _ := state.Float32Rows(ctx, start, start+e.Steps)
		for k := 0; k < e.Steps; k++ {
			for j, b := range e.Frames[k] {
				if float32(b) != px[k*96*96*3+j] {
					t.Fatalf("episode %d step %d pixel %d: %d vs %v", i, k, j, b, px[k*96*96*3+j])
				}
			}
			for j := 0; j < 5; j++ {
				if e.GroundTruth[k][j] != st[k*5+j] || (j < 2 && e.Proprio[k][j] != st[k*5+j]) {
					t.Fatalf("episode %d step %d state differs", i, k)
				}
			}
		}
		frames, w, h, err := video.ReadMP4(s.VideoPath(id))
		if err != nil || w != 96 || h != 96 || len(frames) != e.Steps {
			t.Fatalf("video: %d frames %dx%d, %v", len(frames), w, h, err)
		}
		start += e.Steps
	}
}

func dirSize(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkImportPushT imports the whole dataset (206 episodes, 25,650
// steps), without and with videos. Run with -benchtime=1x.
func BenchmarkImportPushT(b *testing.B) {
	path := pushtPath(b)
	for _, bc := range []struct {
		name  string
		video VideoWriter
	}{
		{"no_video", nil},
		{"video_h264", video.WriteMP4},
		{"video_mpeg4", video.NewWriter(video.Options{Codec: video.MPEG4})},
		{"video_h264_x4", video.UpscaledWriter(4)}, // what `dreamrank dataset import --video` uses
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				root := b.TempDir()
				s, err := Open(root)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep, err := ImportReplayBuffer(context.Background(), s, path, ImportOptions{Video: bc.video}, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if rep.Imported != 206 || rep.Steps != 25650 {
					b.Fatalf("report %+v", rep)
				}
				b.ReportMetric(float64(dirSize(root))/1e6, "MB_on_disk")
				b.ReportMetric(rep.Duration.Seconds(), "s_import")
				b.StartTimer()
			}
		})
	}
}

// TestImportPushTWhole imports every human demonstration (no video) and then
// again, which must skip them all: the import is idempotent.
func TestImportPushTWhole(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-dataset import skipped in -short mode")
	}
	ctx := context.Background()
	path := pushtPath(t)
	s := openStore(t)
	rep, err := ImportReplayBuffer(ctx, s, path, ImportOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("imported %d episodes, %d steps in %s", rep.Imported, rep.Steps, rep.Duration)
	if rep.Imported != 206 || rep.Steps != 25650 || rep.NonIntegralPixels != 0 {
		t.Fatalf("first import: %+v", rep)
	}
	again, err := ImportReplayBuffer(ctx, s, path, ImportOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Imported != 0 || again.Skipped != 206 {
		t.Fatalf("re-import: imported %d, skipped %d; want 0, 206", again.Imported, again.Skipped)
	}
	metas, err := s.List(ctx, Filter{Source: "pusht_cchi_v7_replay"})
	if err != nil || len(metas) != 206 {
		t.Fatalf("List: %d episodes, %v", len(metas), err)
	}
}
