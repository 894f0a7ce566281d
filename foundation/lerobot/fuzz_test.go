package lerobot

import (
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// The parsers of outside input must never panic and must answer with this
// package's sentinels.

func FuzzParseInfo(f *testing.F) {
	f.Add([]byte(`{"codebase_version": "v2.1", "fps": 10, "chunks_size": 1000, "data_path": "` + dataPath21 + `", "video_path": "` + videoPath21 + `",
		"features": {"observation.image": {"dtype": "video", "shape": [96, 96, 3]}, "observation.state": {"dtype": "float32", "shape": [2]}}}`))
	f.Add([]byte(`{"codebase_version": "v3.0", "fps": 30, "data_path": "` + dataPath30 + `", "video_path": null,
		"features": {"action": {"dtype": "float32", "shape": [7], "names": {"motors": ["a"]}}}}`))
	f.Add([]byte(`{"codebase_version": "v3.0", "fps": 1e309}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInfo(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !(in.FPS > 0) || len(in.Features) == 0 {
			t.Fatalf("accepted %+v", in)
		}
		for _, f := range in.Features {
			if f.Size() <= 0 {
				t.Fatalf("accepted feature %+v", f)
			}
		}
		in.CameraKeys("")
	})
}

func FuzzParseEpisodesJSONL(f *testing.F) {
	f.Add([]byte(`{"episode_index": 0, "tasks": ["push the T"], "length": 161}` + "\n" + `{"episode_index": 1, "tasks": [], "length": 2, "dreamrank_meta": {"id": "x"}}`))
	f.Add([]byte("\n\n{\"episode_index\": -1, \"length\": 0}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		eps, err := ParseEpisodesJSONL(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, e := range eps {
			if *e.Index < 0 || *e.Length < 1 {
				t.Fatalf("accepted %+v", e)
			}
		}
	})
}

func FuzzParseTasksJSONL(f *testing.F) {
	f.Add([]byte(`{"task_index": 0, "task": "push the T"}` + "\n" + `{"task_index": 1, "task": ""}`))
	f.Add([]byte(`{"task_index": 0, "task": "a"}` + "\n" + `{"task_index": 0, "task": "b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseTasksJSONL(b); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{dataPath21, videoPath21, dataPath30, videoPath30, "../{video_key}", "{{x}}/{chunk_index:-3d}", "/{file_index:099d}"} {
		f.Add(s, "observation.image")
	}
	f.Fuzz(func(t *testing.T, tmpl, key string) {
		p, err := expand(tmpl, map[string]any{"episode_chunk": 1, "episode_index": 7, "chunk_index": 2, "file_index": 3, "video_key": key})
		if err != nil {
			return
		}
		// Whatever is accepted stays inside the dataset.
		if path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || strings.Contains(p, "\\") {
			t.Fatalf("%q expanded to %q", tmpl, p)
		}
		if rel, err := filepath.Rel("/root", filepath.Join("/root", p)); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			t.Fatalf("%q expanded to %q, outside", tmpl, p)
		}
	})
}

// FuzzEpisodesParquet feeds arbitrary bytes to the v3.0 metadata readers
// (tasks.parquet, then meta/episodes), seeded with real files.
func FuzzEpisodesParquet(f *testing.F) {
	dir := f.TempDir()
	fixMeta30(f, dir)
	tasks, err := os.ReadFile(filepath.Join(dir, tasksParquetPath))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tasks)
	eps, err := os.ReadFile(filepath.Join(dir, "meta/episodes/chunk-000/file-000.parquet"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(eps)
	f.Fuzz(func(t *testing.T, b []byte) {
		video := "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
		d := &Dataset{Info: &Info{FPS: 10, DataPath: dataPath30, VideoPath: &video,
			Features: map[string]Feature{"observation.images.top": {DType: "video", Shape: []int{32, 32, 3}}}}}
		tb, err := parseTable("fuzz.parquet", b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if _, err := tasksTable(tb); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("tasks: unexpected error kind: %v", err)
		}
		if _, err := d.episodes30(tb, "fuzz.parquet"); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("episodes: unexpected error kind: %v", err)
		}
	})
}
