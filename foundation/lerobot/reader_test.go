package lerobot

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"dreamrank/foundation/episode"
)

func TestImportFixture(t *testing.T) {
	tests := []struct {
		name    string
		build   func(testing.TB) string
		camera  string
		version Version
		dropped []string
		cam     int // which fixture camera the frames come from
	}{
		{"v2.1 single camera", fixture21, keyImage, V21, nil, 0},
		{"v2.1 AV1 video", fixture21AV1, keyImage, V21, nil, 0},
		{"v2.1 image feature (PNG in parquet)", fixture21Image, keyImage, V21, nil, 0},
		{"v3.0 main camera", fixture30, "observation.images.top", V30, []string{"observation.images.wrist"}, 0},
		{"v3.0 chosen camera", fixture30, "observation.images.wrist", V30, []string{"observation.images.top"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := tc.build(t)
			store, err := episode.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			opts := ImportOptions{}
			if tc.cam != 0 {
				opts.Camera = tc.camera
			}
			rep, err := Import(ctx, store, dir, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Version != tc.version || rep.Camera != tc.camera || !reflect.DeepEqual(rep.Dropped, tc.dropped) || rep.Imported != 2 || rep.Steps != 8 {
				t.Fatalf("report %+v", rep)
			}
			for ep, id := range rep.IDs {
				e, err := store.Get(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if e.Steps != fixLengths[ep] || e.FrameW != 32 || e.FrameH != 32 {
					t.Fatalf("episode %d: %d steps of %dx%d", ep, e.Steps, e.FrameW, e.FrameH)
				}
				if e.Instruction != fixTasks[fixTask(ep)] {
					t.Errorf("episode %d instruction %q, want %q", ep, e.Instruction, fixTasks[fixTask(ep)])
				}
				if e.Outcome == nil || e.Outcome.Success != (ep == 0) || e.Outcome.MaxReward != float64(fixLengths[ep]-1)*0.25 {
					t.Errorf("episode %d outcome %+v", ep, e.Outcome)
				}
				if e.Source != "fix"+map[Version]string{V21: "21", V30: "30"}[tc.version] || e.Policy != "human" || e.Extra["episode_index"] != string(rune('0'+ep)) {
					t.Errorf("episode %d meta %+v", ep, e.Meta)
				}
				want := fixFrames(ep, tc.cam)
				for k := 0; k < e.Steps; k++ {
					if !reflect.DeepEqual(e.Proprio[k], fixState(ep, k)) || !reflect.DeepEqual(e.Actions[k], fixAction(ep, k)) {
						t.Errorf("episode %d step %d: proprio %v actions %v", ep, k, e.Proprio[k], e.Actions[k])
					}
					if e.Timestamps[k] != float64(k)/10 || e.Rewards[k] != float32(k)*0.25 {
						t.Errorf("episode %d step %d: t %v reward %v", ep, k, e.Timestamps[k], e.Rewards[k])
					}
					if d := meanAbsDiff(e.Frames[k], want[k]); d > frameTol {
						t.Errorf("episode %d frame %d: mean abs diff %.2f (wrong frame or camera?)", ep, k, d)
					}
				}
			}
		})
	}
}

func TestImportLimitAndSource(t *testing.T) {
	ctx := context.Background()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := fixture30(t)
	rep, err := Import(ctx, store, dir, ImportOptions{Limit: 1, Source: "so100-demos"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Episodes != 1 || rep.Imported != 1 || rep.IDs[0] != ImportID("so100-demos", 0) {
		t.Fatalf("report %+v", rep)
	}
	e, err := store.Get(ctx, rep.IDs[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Source != "so100-demos" || e.Extra["robot_type"] != "so100" || e.Extra["lerobot_version"] != "v3.0" {
		t.Fatalf("meta %+v", e.Meta)
	}
	// The rest follows; the first is skipped.
	rep, err = Import(ctx, store, dir, ImportOptions{Source: "so100-demos"}, nil)
	if err != nil || rep.Imported != 1 || rep.Skipped != 1 {
		t.Fatalf("second import %+v, %v", rep, err)
	}
}

func TestExportSelection(t *testing.T) {
	ctx := context.Background()
	store, eps := synthStore(t)
	tests := []struct {
		name string
		opts ExportOptions
		want []string // ids, in export order
	}{
		{"all", ExportOptions{}, []string{eps[0].ID, eps[1].ID, eps[2].ID}},
		{"limit", ExportOptions{Limit: 2}, []string{eps[0].ID, eps[1].ID}},
		{"ids", ExportOptions{IDs: []string{eps[2].ID, eps[0].ID}}, []string{eps[0].ID, eps[2].ID}},
		{"filter", ExportOptions{Filter: episode.Filter{Policy: "diffusion", Source: "fleet"}}, []string{eps[0].ID, eps[1].ID, eps[2].ID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Version = V21
			out := filepath.Join(t.TempDir(), "ds")
			rep, err := Export(ctx, store, out, tc.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range d.Episodes {
				var m episode.Meta
				json.Unmarshal(e.meta, &m)
				got = append(got, m.ID)
			}
			if rep.Episodes != len(tc.want) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("exported %v (report %d), want %v", got, rep.Episodes, tc.want)
			}
		})
	}
}
