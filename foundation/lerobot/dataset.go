package lerobot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Files of a dataset, relative to its root (lerobot/datasets/utils.py).
const (
	infoPath          = "meta/info.json"
	episodesJSONLPath = "meta/episodes.jsonl"       // v2.1
	tasksJSONLPath    = "meta/tasks.jsonl"          // v2.1
	episodesStatsPath = "meta/episodes_stats.jsonl" // v2.1
	statsPath         = "meta/stats.json"           // v3.0
	tasksParquetPath  = "meta/tasks.parquet"        // v3.0
	episodesDir       = "meta/episodes"             // v3.0: chunk-XXX/file-XXX.parquet

	// Path templates LeRobot writes into info.json.
	dataPath21  = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
	videoPath21 = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
	dataPath30  = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
	videoPath30 = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
	episodes30  = "meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
)

// videoRef says where one episode's frames of one camera are: a file and
// the time span inside it (v2.1: the whole per-episode file).
type videoRef struct {
	file     string // relative to the dataset root
	from, to float64
}

// EpisodeRef is one episode as the metadata describes it.
type EpisodeRef struct {
	Index  int      // episode_index
	Length int      // frames
	Tasks  []string // task texts, as listed for the episode
	// DataFile is the parquet file holding its frames (relative path); in
	// v3.0 rows [From, To) of the dataset-wide index.
	DataFile string
	From, To int
	videos   map[string]videoRef
	meta     json.RawMessage // dreamrank_meta, when the dataset came from dreamrank
}

// Dataset is an opened LeRobot dataset: its info.json, its episodes in
// index order and its task table. Open reads only metadata.
type Dataset struct {
	Root     string
	Info     *Info
	Episodes []EpisodeRef
	Tasks    map[int]string // task_index -> text
}

// Detect reports whether dir looks like a LeRobot dataset (it has
// meta/info.json).
func Detect(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, infoPath))
	return err == nil && st.Mode().IsRegular()
}

// Open reads and cross-checks a dataset's metadata: info.json, the
// episode list and the tasks, in the layout its codebase_version names.
func Open(dir string) (*Dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotDataset, dir, infoPath)
	}
	if err != nil {
		return nil, err
	}
	info, err := ParseInfo(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	d := &Dataset{Root: dir, Info: info}
	switch info.Version() {
	case V21:
		err = d.openV21()
	case V30:
		err = d.openV30()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return d, d.check()
}

// check verifies what holds in both layouts: unique indices, positive
// lengths, totals that agree with info.json.
func (d *Dataset) check() error {
	sort.Slice(d.Episodes, func(i, j int) bool { return d.Episodes[i].Index < d.Episodes[j].Index })
	frames := 0
	for i, e := range d.Episodes {
		if e.Length <= 0 {
			return fmt.Errorf("%w: %s: episode %d has length %d", ErrCorrupt, d.Root, e.Index, e.Length)
		}
		if i > 0 && d.Episodes[i-1].Index == e.Index {
			return fmt.Errorf("%w: %s: episode %d listed twice", ErrCorrupt, d.Root, e.Index)
		}
		frames += e.Length
	}
	if len(d.Episodes) == 0 {
		return fmt.Errorf("%w: %s: no episodes", ErrCorrupt, d.Root)
	}
	if d.Info.TotalEpisodes != len(d.Episodes) || d.Info.TotalFrames != frames {
		return fmt.Errorf("%w: %s: info.json says %d episodes and %d frames, the episode metadata %d and %d",
			ErrCorrupt, d.Root, d.Info.TotalEpisodes, d.Info.TotalFrames, len(d.Episodes), frames)
	}
	return nil
}

// Episode21 is one line of v2.1's meta/episodes.jsonl.
type Episode21 struct {
	Index  *int            `json:"episode_index"`
	Tasks  []string        `json:"tasks"`
	Length *int            `json:"length"`
	Meta   json.RawMessage `json:"dreamrank_meta,omitempty"`
}

// Task21 is one line of v2.1's meta/tasks.jsonl.
type Task21 struct {
	Index *int    `json:"task_index"`
	Task  *string `json:"task"`
}

// jsonLines decodes one JSON object per non-blank line.
func jsonLines[T any](name string, b []byte) ([]T, error) {
	var out []T
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v T
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrCorrupt, name, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, name, err)
	}
	return out, nil
}

// ParseEpisodesJSONL parses v2.1's meta/episodes.jsonl; every line needs
// episode_index >= 0 and length >= 1.
func ParseEpisodesJSONL(b []byte) ([]Episode21, error) {
	eps, err := jsonLines[Episode21](episodesJSONLPath, b)
	if err != nil {
		return nil, err
	}
	for i, e := range eps {
		if e.Index == nil || e.Length == nil || *e.Index < 0 || *e.Length < 1 || *e.Length > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %s entry %d: episode_index and length must be present and positive", ErrCorrupt, episodesJSONLPath, i)
		}
	}
	return eps, nil
}

// ParseTasksJSONL parses v2.1's meta/tasks.jsonl into task_index -> text.
func ParseTasksJSONL(b []byte) (map[int]string, error) {
	ts, err := jsonLines[Task21](tasksJSONLPath, b)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(ts))
	for i, t := range ts {
		if t.Index == nil || t.Task == nil || *t.Index < 0 {
			return nil, fmt.Errorf("%w: %s entry %d: task_index and task must be present", ErrCorrupt, tasksJSONLPath, i)
		}
		if _, dup := out[*t.Index]; dup {
			return nil, fmt.Errorf("%w: %s: task_index %d twice", ErrCorrupt, tasksJSONLPath, *t.Index)
		}
		out[*t.Index] = *t.Task
	}
	return out, nil
}

func (d *Dataset) readMeta(rel string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.Root, rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMissing, rel)
	}
	return b, err
}

func (d *Dataset) openV21() error {
	b, err := d.readMeta(episodesJSONLPath)
	if err != nil {
		return err
	}
	eps, err := ParseEpisodesJSONL(b)
	if err != nil {
		return err
	}
	if b, err = d.readMeta(tasksJSONLPath); err != nil {
		return err
	}
	if d.Tasks, err = ParseTasksJSONL(b); err != nil {
		return err
	}
	videoKeys := d.Info.CameraKeys("video")
	for _, e := range eps {
		vars := map[string]any{"episode_chunk": *e.Index / d.Info.ChunksSize, "episode_index": *e.Index}
		ref := EpisodeRef{Index: *e.Index, Length: *e.Length, Tasks: e.Tasks, meta: e.Meta, To: *e.Length}
		if ref.DataFile, err = expand(d.Info.DataPath, vars); err != nil {
			return fmt.Errorf("%w: episode %d: data_path: %v", ErrCorrupt, ref.Index, err)
		}
		ref.videos = map[string]videoRef{}
		for _, k := range videoKeys {
			vars["video_key"] = k
			p, err := expand(*d.Info.VideoPath, vars)
			if err != nil {
				return fmt.Errorf("%w: episode %d: video_path: %v", ErrCorrupt, ref.Index, err)
			}
			ref.videos[k] = videoRef{file: p, from: 0, to: float64(ref.Length) / d.Info.FPS}
		}
		d.Episodes = append(d.Episodes, ref)
	}
	return nil
}

func (d *Dataset) openV30() (err error) {
	defer recoverCorrupt(&err, episodesDir)
	if d.Tasks, err = d.readTasks30(); err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(d.Root, episodesDir, "*", "*.parquet"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%w: no %s/chunk-*/file-*.parquet", ErrMissing, episodesDir)
	}
	sort.Strings(files)
	for _, f := range files {
		rel, _ := filepath.Rel(d.Root, f)
		t, err := openTable(f)
		if err != nil {
			return err
		}
		eps, err := d.episodes30(t, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		d.Episodes = append(d.Episodes, eps...)
	}
	return nil
}

// episodes30 reads the episode rows of one meta/episodes parquet file.
func (d *Dataset) episodes30(t *table, rel string) (_ []EpisodeRef, err error) {
	defer recoverCorrupt(&err, rel)
	ints := map[string][]int64{}
	for _, c := range []string{"episode_index", "length", "data/chunk_index", "data/file_index", "dataset_from_index", "dataset_to_index"} {
		v, err := t.int64s(c)
		if err != nil {
			return nil, err
		}
		ints[c] = v
	}
	tasks, err := t.stringLists("tasks")
	if err != nil {
		return nil, err
	}
	var metas []string
	if t.has(keyMeta) {
		if metas, err = t.strings(keyMeta); err != nil {
			return nil, err
		}
	}
	type vcols struct {
		chunk, file []int64
		from, to    []float64
	}
	vids := map[string]vcols{}
	for _, k := range d.Info.CameraKeys("video") {
		p := "videos/" + k + "/"
		var v vcols
		if v.chunk, err = t.int64s(p + "chunk_index"); err == nil {
			if v.file, err = t.int64s(p + "file_index"); err == nil {
				if v.from, err = t.float64s(p + "from_timestamp"); err == nil {
					v.to, err = t.float64s(p + "to_timestamp")
				}
			}
		}
		if err != nil {
			return nil, err
		}
		vids[k] = v
	}
	bad := func(i int, format string, args ...any) error {
		return fmt.Errorf("%w: %s row %d: "+format, append([]any{ErrCorrupt, rel, i}, args...)...)
	}
	small := func(x int64) bool { return x >= 0 && x <= math.MaxInt32 }
	out := make([]EpisodeRef, t.rows)
	for i := range out {
		e := &out[i]
		for _, c := range []string{"episode_index", "length", "data/chunk_index", "data/file_index", "dataset_from_index", "dataset_to_index"} {
			if !small(ints[c][i]) {
				return nil, bad(i, "%s = %d", c, ints[c][i])
			}
		}
		e.Index, e.Length = int(ints["episode_index"][i]), int(ints["length"][i])
		e.From, e.To = int(ints["dataset_from_index"][i]), int(ints["dataset_to_index"][i])
		if e.To-e.From != e.Length {
			return nil, bad(i, "episode %d has length %d but spans rows [%d, %d)", e.Index, e.Length, e.From, e.To)
		}
		if i < len(tasks) {
			e.Tasks = tasks[i]
		}
		if metas != nil {
			e.meta = json.RawMessage(metas[i])
		}
		e.DataFile, err = expand(d.Info.DataPath, map[string]any{"chunk_index": int(ints["data/chunk_index"][i]), "file_index": int(ints["data/file_index"][i])})
		if err != nil {
			return nil, bad(i, "data_path: %v", err)
		}
		e.videos = map[string]videoRef{}
		for k, v := range vids {
			if !small(v.chunk[i]) || !small(v.file[i]) {
				return nil, bad(i, "video %s chunk/file index %d/%d", k, v.chunk[i], v.file[i])
			}
			if !(v.from[i] >= 0) || !(v.to[i] > v.from[i]) || math.IsInf(v.to[i], 0) {
				return nil, bad(i, "video %s spans [%v, %v)", k, v.from[i], v.to[i])
			}
			p, err := expand(*d.Info.VideoPath, map[string]any{"video_key": k, "chunk_index": int(v.chunk[i]), "file_index": int(v.file[i])})
			if err != nil {
				return nil, bad(i, "video_path: %v", err)
			}
			e.videos[k] = videoRef{file: p, from: v.from[i], to: v.to[i]}
		}
	}
	return out, nil
}

// readTasks30 reads meta/tasks.parquet: a task_index column and the task
// text, which pandas stores as the DataFrame index (a column named
// __index_level_0__, or the index's name, listed in the pandas metadata).
func (d *Dataset) readTasks30() (map[int]string, error) {
	t, err := openTable(filepath.Join(d.Root, tasksParquetPath))
	if err != nil {
		return nil, err
	}
	return tasksTable(t)
}

func tasksTable(t *table) (_ map[int]string, err error) {
	defer recoverCorrupt(&err, tasksParquetPath)
	idx, err := t.int64s("task_index")
	if err != nil {
		return nil, err
	}
	textCol := ""
	for _, c := range append(t.pandasIndex(), "task", "__index_level_0__") {
		if t.has(c) && c != "task_index" {
			textCol = c
			break
		}
	}
	if textCol == "" {
		return nil, fmt.Errorf("%w: %s: no task text column (task, __index_level_0__ or the pandas index)", ErrCorrupt, tasksParquetPath)
	}
	texts, err := t.strings(textCol)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(idx))
	for i, x := range idx {
		if x < 0 || x > math.MaxInt32 {
			return nil, fmt.Errorf("%w: %s: task_index %d", ErrCorrupt, tasksParquetPath, x)
		}
		if _, dup := out[int(x)]; dup {
			return nil, fmt.Errorf("%w: %s: task_index %d twice", ErrCorrupt, tasksParquetPath, x)
		}
		out[int(x)] = texts[i]
	}
	return out, nil
}

// recoverCorrupt turns a panic inside the parquet decoder (a damaged or
// hostile file it does not guard against) into ErrCorrupt.
func recoverCorrupt(err *error, what string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: parquet decoder failed: %v", ErrCorrupt, what, r)
	}
}

// taskText is the text of task_index i, or "" when the table lacks it.
func (d *Dataset) taskText(i int64) (string, bool) {
	s, ok := d.Tasks[int(i)]
	return s, ok && i >= 0 && i <= math.MaxInt32
}

// cameraFor picks the camera that becomes the episode's frames: want if
// given, else observation.image, else the first observation.images.* key.
func (d *Dataset) cameraFor(want string) (main string, dropped []string, err error) {
	keys := d.Info.CameraKeys("")
	if len(keys) == 0 {
		return "", nil, fmt.Errorf("%w: %s: no camera (video or image) feature", ErrUnsupported, d.Root)
	}
	main = keys[0]
	if want != "" {
		f, ok := d.Info.Features[want]
		if !ok || !f.IsCamera() {
			return "", nil, fmt.Errorf("%w: %s: no camera %q (have %s)", ErrUnsupported, d.Root, want, strings.Join(keys, ", "))
		}
		main = want
	}
	for _, k := range keys {
		if k != main {
			dropped = append(dropped, k)
		}
	}
	return main, dropped, nil
}
