package lerobot

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"dreamrank/foundation/episode"
)

// Lossy video tolerance: h264 at this size averages about 1-3 levels of
// error per byte; 8 still rejects a frame from another step (the moving
// block alone shifts the mean by about 10) or another episode (the blue
// channel differs by 60).
const frameTol = 8.0

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		opts  ExportOptions
		files int // data parquet files expected
	}{
		{"v2.1", ExportOptions{Version: V21}, 3},
		{"v3.0", ExportOptions{Version: V30}, 1},
		// A file per episode and two files per chunk directory: every
		// episode in its own data and video file, across chunk-000/001.
		{"v3.0 rotating files", ExportOptions{Version: V30, ChunksSize: 2, fileBytes: 1}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.opts.Version
			ctx := context.Background()
			src, eps := synthStore(t)
			out := filepath.Join(t.TempDir(), "ds")
			rep, err := Export(ctx, src, out, tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Episodes != 3 || rep.Frames != 39 || rep.Tasks != 2 || rep.FPS != 10 || rep.Codec != "h264" || rep.Retimed != 0 {
				t.Fatalf("export report %+v", rep)
			}
			data, _ := filepath.Glob(filepath.Join(out, "data", "*", "*.parquet"))
			videos, _ := filepath.Glob(filepath.Join(out, "videos", "*", "*", "*.mp4"))
			if len(data) != tc.files || len(videos) != tc.files {
				t.Fatalf("%d data files, %d videos, want %d of each: %v %v", len(data), len(videos), tc.files, data, videos)
			}
			dst, err := episode.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			irep, err := Import(ctx, dst, out, ImportOptions{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if irep.Imported != 3 || irep.Version != v || irep.Camera != keyImage {
				t.Fatalf("import report %+v", irep)
			}
			for i, want := range eps {
				got, err := dst.Get(ctx, irep.IDs[i])
				if err != nil {
					t.Fatal(err)
				}
				compareEpisode(t, want, got)
			}
			// Importing again writes nothing.
			again, err := Import(ctx, dst, out, ImportOptions{}, nil)
			if err != nil || again.Imported != 0 || again.Skipped != 3 {
				t.Fatalf("re-import: %+v, %v", again, err)
			}
		})
	}
}

// compareEpisode: arrays and metadata exact, frames within frameTol.
func compareEpisode(t *testing.T, want, got *episode.Episode) {
	t.Helper()
	if got.Steps != want.Steps || got.FrameH != want.FrameH || got.FrameW != want.FrameW {
		t.Fatalf("episode %s: %d steps %dx%d, want %d %dx%d", want.ID, got.Steps, got.FrameH, got.FrameW, want.Steps, want.FrameH, want.FrameW)
	}
	for name, pair := range map[string][2]any{
		"proprio": {want.Proprio, got.Proprio}, "actions": {want.Actions, got.Actions},
		"ground truth": {want.GroundTruth, got.GroundTruth}, "rewards": {want.Rewards, got.Rewards},
		"timestamps":  {want.Timestamps, got.Timestamps},
		"instruction": {want.Instruction, got.Instruction}, "source": {want.Source, got.Source},
		"policy": {want.Policy, got.Policy}, "robot": {want.RobotID, got.RobotID},
		"outcome": {want.Outcome, got.Outcome}, "created": {want.Created.UTC(), got.Created.UTC()},
		"note": {want.Extra["note"], got.Extra["note"]}, "original id": {want.ID, got.Extra["dreamrank_id"]},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("episode %s: %s differs:\n got %v\nwant %v", want.ID, name, pair[1], pair[0])
		}
	}
	for k := range want.Frames {
		if d := meanAbsDiff(want.Frames[k], got.Frames[k]); d > frameTol {
			t.Errorf("episode %s frame %d: mean abs diff %.2f > %v", want.ID, k, d, frameTol)
		}
	}
}
