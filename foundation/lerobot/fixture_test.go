package lerobot

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"dreamrank/foundation/video"
)

// The fixtures below are built by hand after LeRobot's documented layout
// (lerobot/datasets/utils.py paths, info.json as lerobot/pusht has it),
// with parquet-go's struct writer and video.WriteMP4: none of the
// exporter's code, so the reader is checked independently of it.

// Two episodes, two tasks, 32x32 frames at 10 fps.
var fixLengths = []int{5, 3}

func fixState(ep, k int) []float32  { return []float32{float32(ep*10 + k), -float32(k) / 3} }
func fixAction(ep, k int) []float32 { return []float32{float32(k) * 0.5, float32(ep), 7} }
func fixTask(ep int) int64          { return int64(1 - ep) } // episode 0 does task 1

var fixTasks = []string{"stack the cubes", "push the T"}

// row21 is a data row as pyarrow writes LeRobot's (timestamp and reward
// nullable, as pandas-made columns are).
type fixRow struct {
	State        []float32 `parquet:"observation.state,list"`
	Action       []float32 `parquet:"action,list"`
	Timestamp    *float32  `parquet:"timestamp,optional"`
	FrameIndex   int64     `parquet:"frame_index"`
	EpisodeIndex int64     `parquet:"episode_index"`
	Index        int64     `parquet:"index"`
	TaskIndex    int64     `parquet:"task_index"`
	Reward       *float32  `parquet:"next.reward,optional"`
	Done         bool      `parquet:"next.done"`
	Success      bool      `parquet:"next.success"`
}

func fixRows(ep, from int) []fixRow {
	var rows []fixRow
	for k := 0; k < fixLengths[ep]; k++ {
		ts, r := float32(k)/10, float32(k)*0.25
		rows = append(rows, fixRow{State: fixState(ep, k), Action: fixAction(ep, k), Timestamp: &ts,
			FrameIndex: int64(k), EpisodeIndex: int64(ep), Index: int64(from + k), TaskIndex: fixTask(ep),
			Reward: &r, Done: k == fixLengths[ep]-1, Success: ep == 0 && k == fixLengths[ep]-1})
	}
	return rows
}

func writeParquet[T any](t testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := parquet.WriteFile(path, rows, opts...); err != nil {
		t.Fatal(err)
	}
}

func writeText(t testing.TB, path, text string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeVideo(t testing.TB, path string, frames [][]uint8) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := video.WriteMP4(path, frames, 32, 32, 10); err != nil {
		t.Fatal(err)
	}
}

// fixFrames is episode ep's frames of a camera (cam shifts the colours).
func fixFrames(ep, cam int) [][]uint8 {
	var out [][]uint8
	for k := 0; k < fixLengths[ep]; k++ {
		f := synthFrame(32, 32, ep, 3*k)
		for i := 2; i < len(f); i += 3 {
			f[i] += uint8(90 * cam)
		}
		out = append(out, f)
	}
	return out
}

const fixFeatures = `
    "observation.state": {"dtype": "float32", "shape": [2], "names": {"motors": ["x", "y"]}},
    "action": {"dtype": "float32", "shape": [3], "names": ["a", "b", "c"]},
    "timestamp": {"dtype": "float32", "shape": [1], "names": null},
    "frame_index": {"dtype": "int64", "shape": [1], "names": null},
    "episode_index": {"dtype": "int64", "shape": [1], "names": null},
    "index": {"dtype": "int64", "shape": [1], "names": null},
    "task_index": {"dtype": "int64", "shape": [1], "names": null},
    "next.reward": {"dtype": "float32", "shape": [1], "names": null},
    "next.done": {"dtype": "bool", "shape": [1], "names": null},
    "next.success": {"dtype": "bool", "shape": [1], "names": null},`

// fixture21 builds a v2.1 dataset: per-episode parquet and mp4, jsonl
// metadata, a single camera observation.image with the v2.0-era
// "video_info" key, as lerobot/pusht has it.
func fixture21(t testing.TB) string {
	dir := filepath.Join(t.TempDir(), "fix21")
	writeText(t, filepath.Join(dir, "meta/info.json"), `{
  "codebase_version": "v2.1", "robot_type": "unknown",
  "total_episodes": 2, "total_frames": 8, "total_tasks": 2, "total_videos": 2, "total_chunks": 1,
  "chunks_size": 1000, "fps": 10, "splits": {"train": "0:2"},
  "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
  "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
  "features": {`+fixFeatures+`
    "observation.image": {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channel"],
      "video_info": {"video.fps": 10.0, "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": false, "has_audio": false}}
  }
}`)
	writeText(t, filepath.Join(dir, "meta/episodes.jsonl"),
		`{"episode_index": 0, "tasks": ["push the T"], "length": 5}`+"\n"+`{"episode_index": 1, "tasks": ["stack the cubes"], "length": 3}`+"\n")
	writeText(t, filepath.Join(dir, "meta/tasks.jsonl"),
		`{"task_index": 0, "task": "stack the cubes"}`+"\n"+`{"task_index": 1, "task": "push the T"}`+"\n")
	from := 0
	for ep := range fixLengths {
		writeParquet(t, filepath.Join(dir, "data/chunk-000", "episode_00000"+string(rune('0'+ep))+".parquet"), fixRows(ep, from))
		writeVideo(t, filepath.Join(dir, "videos/chunk-000/observation.image", "episode_00000"+string(rune('0'+ep))+".mp4"), fixFrames(ep, 0))
		from += fixLengths[ep]
	}
	return dir
}

// ep30 is a row of v3.0's meta/episodes parquet for two cameras.
type ep30 struct {
	EpisodeIndex int64    `parquet:"episode_index"`
	Tasks        []string `parquet:"tasks,list"`
	Length       int64    `parquet:"length"`
	DataChunk    int64    `parquet:"data/chunk_index"`
	DataFile     int64    `parquet:"data/file_index"`
	From         int64    `parquet:"dataset_from_index"`
	To           int64    `parquet:"dataset_to_index"`
	TopChunk     int64    `parquet:"videos/observation.images.top/chunk_index"`
	TopFile      int64    `parquet:"videos/observation.images.top/file_index"`
	TopFrom      float64  `parquet:"videos/observation.images.top/from_timestamp"`
	TopTo        float64  `parquet:"videos/observation.images.top/to_timestamp"`
	WristChunk   int64    `parquet:"videos/observation.images.wrist/chunk_index"`
	WristFile    int64    `parquet:"videos/observation.images.wrist/file_index"`
	WristFrom    float64  `parquet:"videos/observation.images.wrist/from_timestamp"`
	WristTo      float64  `parquet:"videos/observation.images.wrist/to_timestamp"`
	MetaChunk    int64    `parquet:"meta/episodes/chunk_index"`
	MetaFile     int64    `parquet:"meta/episodes/file_index"`
}

type task30 struct {
	TaskIndex int64  `parquet:"task_index"`
	Task      string `parquet:"__index_level_0__"`
}

// fixture30 builds a v3.0 dataset: one data file and, per camera, one
// mp4 holding both episodes back to back, placed by from/to timestamps;
// tasks.parquet as pandas writes it (text in the index column).
func fixture30(t testing.TB) string {
	dir := filepath.Join(t.TempDir(), "fix30")
	writeText(t, filepath.Join(dir, "meta/info.json"), `{
  "codebase_version": "v3.0", "robot_type": "so100",
  "total_episodes": 2, "total_frames": 8, "total_tasks": 2,
  "chunks_size": 1000, "data_files_size_in_mb": 100, "video_files_size_in_mb": 500,
  "fps": 10, "splits": {"train": "0:2"},
  "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
  "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
  "features": {`+fixFeatures+`
    "observation.images.wrist": {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"],
      "info": {"video.height": 32, "video.width": 32, "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": false, "video.fps": 10, "video.channels": 3, "has_audio": false}},
    "observation.images.top": {"dtype": "video", "shape": [32, 32, 3], "names": ["height", "width", "channels"],
      "info": {"video.height": 32, "video.width": 32, "video.codec": "h264", "video.pix_fmt": "yuv420p", "video.is_depth_map": false, "video.fps": 10, "video.channels": 3, "has_audio": false}}
  }
}`)
	writeParquet(t, filepath.Join(dir, "data/chunk-000/file-000.parquet"), append(fixRows(0, 0), fixRows(1, 5)...))
	for cam, key := range []string{"observation.images.top", "observation.images.wrist"} {
		writeVideo(t, filepath.Join(dir, "videos", key, "chunk-000/file-000.mp4"), append(fixFrames(0, cam), fixFrames(1, cam)...))
	}
	fixMeta30(t, dir)
	return dir
}

// fixMeta30 writes v3.0's episode and task tables.
func fixMeta30(t testing.TB, dir string) {
	writeParquet(t, filepath.Join(dir, "meta/episodes/chunk-000/file-000.parquet"), []ep30{
		{EpisodeIndex: 0, Tasks: []string{"push the T"}, Length: 5, From: 0, To: 5, TopTo: 0.5, WristTo: 0.5},
		{EpisodeIndex: 1, Tasks: []string{"stack the cubes"}, Length: 3, From: 5, To: 8, TopFrom: 0.5, TopTo: 0.8, WristFrom: 0.5, WristTo: 0.8},
	})
	writeParquet(t, filepath.Join(dir, "meta/tasks.parquet"), []task30{{0, "stack the cubes"}, {1, "push the T"}},
		parquet.KeyValueMetadata("pandas", `{"index_columns": ["__index_level_0__"], "columns": []}`))
}

// fixture21AV1 is fixture21 with its videos re-encoded as AV1, LeRobot's
// default codec (libsvtav1 there; OpenCV's libaom here, slowly, which is
// fine for 8 tiny frames). It checks that this machine decodes AV1.
func fixture21AV1(t testing.TB) string {
	dir := fixture21(t)
	for ep := range fixLengths {
		p := filepath.Join(dir, "videos/chunk-000/observation.image", "episode_00000"+string(rune('0'+ep))+".mp4")
		sw, err := video.NewStreamWriter(p, 32, 32, 10, []string{video.AV1})
		if err != nil {
			t.Skipf("no AV1 encoder here: %v", err)
		}
		for _, f := range fixFrames(ep, 0) {
			if err := sw.Write(f); err != nil {
				t.Fatal(err)
			}
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	editFile(t, filepath.Join(dir, "meta/info.json"), `"video.codec": "h264"`, `"video.codec": "av1"`)
	return dir
}

// imageRow is a data row whose camera is an image feature: the datasets
// library's Image struct {bytes, path} holding a PNG.
type imageRow struct {
	State        []float32 `parquet:"observation.state,list"`
	Action       []float32 `parquet:"action,list"`
	Timestamp    float32   `parquet:"timestamp"`
	FrameIndex   int64     `parquet:"frame_index"`
	EpisodeIndex int64     `parquet:"episode_index"`
	Index        int64     `parquet:"index"`
	TaskIndex    int64     `parquet:"task_index"`
	Reward       float32   `parquet:"next.reward"`
	Done         bool      `parquet:"next.done"`
	Success      bool      `parquet:"next.success"`
	Image        struct {
		Bytes []byte `parquet:"bytes"`
		Path  string `parquet:"path"`
	} `parquet:"observation.image"`
}

// fixture21Image is fixture21 with observation.image stored as PNG images
// in the parquet files instead of videos (exact frames).
func fixture21Image(t testing.TB) string {
	dir := fixture21(t)
	os.RemoveAll(filepath.Join(dir, "videos"))
	info := filepath.Join(dir, "meta/info.json")
	editFile(t, info, `"dtype": "video"`, `"dtype": "image"`)
	editFile(t, info, `"total_videos": 2`, `"total_videos": 0`)
	from := 0
	for ep := range fixLengths {
		var rows []imageRow
		frames := fixFrames(ep, 0)
		for k, r := range fixRows(ep, from) {
			ir := imageRow{State: r.State, Action: r.Action, Timestamp: *r.Timestamp, FrameIndex: r.FrameIndex,
				EpisodeIndex: r.EpisodeIndex, Index: r.Index, TaskIndex: r.TaskIndex, Reward: *r.Reward, Done: r.Done, Success: r.Success}
			ir.Image.Bytes = pngBytes(t, frames[k], 32, 32)
			ir.Image.Path = "frame.png"
			rows = append(rows, ir)
		}
		writeParquet(t, filepath.Join(dir, "data/chunk-000", "episode_00000"+string(rune('0'+ep))+".parquet"), rows)
		from += fixLengths[ep]
	}
	return dir
}

func pngBytes(t testing.TB, rgb []uint8, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = rgb[3*i], rgb[3*i+1], rgb[3*i+2], 255
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
