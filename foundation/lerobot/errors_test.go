package lerobot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dreamrank/foundation/episode"
)

func editFile(t testing.TB, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	writeText(t, path, strings.Replace(string(b), old, new, 1))
}

func TestImportErrors(t *testing.T) {
	tests := []struct {
		name  string
		build func(testing.TB) string
		spoil func(t *testing.T, dir string)
		want  error
		says  string
	}{
		{"no info.json", fixture21, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "meta/info.json")) }, ErrNotDataset, "info.json"},
		{"version 1.6", fixture21, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "meta/info.json"), `"v2.1"`, `"v1.6"`)
		}, ErrVersion, "v1.6"},
		{"missing tasks.jsonl", fixture21, func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "meta/tasks.jsonl")) }, ErrMissing, "tasks.jsonl"},
		{"missing data file", fixture21, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "data/chunk-000/episode_000001.parquet"))
		}, ErrMissing, "episode_000001.parquet"},
		{"missing video file", fixture30, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "videos/observation.images.top/chunk-000/file-000.mp4"))
		}, ErrMissing, "file-000.mp4"},
		{"undecodable video", fixture21, func(t *testing.T, dir string) {
			writeText(t, filepath.Join(dir, "videos/chunk-000/observation.image/episode_000000.mp4"), "not an mp4")
		}, ErrCodec, `"h264"`},
		{"episode longer than its data", fixture21, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "meta/episodes.jsonl"), `"length": 3`, `"length": 4`)
			editFile(t, filepath.Join(dir, "meta/info.json"), `"total_frames": 8`, `"total_frames": 9`)
		}, ErrCorrupt, "the metadata says 4 frames"},
		{"totals disagree", fixture21, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "meta/info.json"), `"total_frames": 8`, `"total_frames": 7`)
		}, ErrCorrupt, "7 frames"},
		{"v3.0 span disagrees with length", fixture30, func(t *testing.T, dir string) {
			writeParquet(t, filepath.Join(dir, "meta/episodes/chunk-000/file-000.parquet"), []ep30{
				{EpisodeIndex: 0, Tasks: []string{"push the T"}, Length: 5, From: 0, To: 4, TopTo: 0.5, WristTo: 0.5},
				{EpisodeIndex: 1, Tasks: []string{"stack the cubes"}, Length: 3, From: 5, To: 8, TopFrom: 0.5, TopTo: 0.8, WristFrom: 0.5, WristTo: 0.8},
			})
		}, ErrCorrupt, "spans rows [0, 4)"},
		{"v3.0 video too short", fixture30, func(t *testing.T, dir string) {
			writeVideo(t, filepath.Join(dir, "videos/observation.images.top/chunk-000/file-000.mp4"), fixFrames(0, 0))
		}, ErrCorrupt, "no frame at 0.5000 s"},
		{"data_path escapes", fixture21, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "meta/info.json"), `"data/chunk-`, `"../../data/chunk-`)
		}, ErrCorrupt, "leaves the dataset"},
		{"no observation.state", fixture21, func(t *testing.T, dir string) {
			editFile(t, filepath.Join(dir, "meta/info.json"), `"observation.state"`, `"observation.joints"`)
		}, ErrUnsupported, "observation.state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.build(t)
			tc.spoil(t, dir)
			store, err := episode.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = Import(context.Background(), store, dir, ImportOptions{}, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v\nwant %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

func TestExportOutput(t *testing.T) {
	ctx := context.Background()
	store, _ := synthStore(t)
	tests := []struct {
		name    string
		prepare func(dir string)
		opts    ExportOptions
		want    error
	}{
		{"absent", func(string) {}, ExportOptions{}, nil},
		{"empty", func(dir string) { os.MkdirAll(dir, 0o755) }, ExportOptions{}, nil},
		{"not empty", func(dir string) { writeText(t, filepath.Join(dir, "keep.txt"), "x") }, ExportOptions{}, ErrOutputNotEmpty},
		{"not empty, forced", func(dir string) { writeText(t, filepath.Join(dir, "old.txt"), "x") }, ExportOptions{Force: true}, nil},
		{"bad version", func(string) {}, ExportOptions{Version: "v1.6"}, ErrVersion},
		{"bad codec", func(string) {}, ExportOptions{Codec: "av1"}, ErrUnsupported},
		{"no match", func(string) {}, ExportOptions{Filter: episode.Filter{Source: "nowhere"}}, episode.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			tc.prepare(dir)
			_, err := Export(ctx, store, dir, tc.opts, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrOutputNotEmpty {
				if _, err := os.Stat(filepath.Join(dir, "keep.txt")); err != nil {
					t.Fatal("refused export touched the directory")
				}
			}
			if tc.want == nil {
				if !Detect(dir) {
					t.Fatal("no dataset written")
				}
				if _, err := os.Stat(filepath.Join(dir, "old.txt")); err == nil {
					t.Fatal("forced export kept the old content")
				}
			}
			if left, _ := filepath.Glob(dir + ".partial-*"); len(left) > 0 {
				t.Fatalf("left behind %v", left)
			}
		})
	}
}

func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	store, _ := synthStore(t)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := Export(ctx, store, out, ExportOptions{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("export err = %v", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a cancelled export left %s", out)
	}
	if left, _ := filepath.Glob(out + ".partial-*"); len(left) > 0 {
		t.Fatalf("left behind %v", left)
	}
	dst, _ := episode.Open(t.TempDir())
	if _, err := Import(ctx, dst, fixture30(t), ImportOptions{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("import err = %v", err)
	}
	if metas, _ := dst.List(context.Background(), episode.Filter{}); len(metas) != 0 {
		t.Fatalf("a cancelled import wrote %d episodes", len(metas))
	}
}
