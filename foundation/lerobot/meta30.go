package lerobot

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
)

// openV30 reads v3.0's metadata: meta/tasks.parquet and every
// meta/episodes/chunk-*/file-*.parquet, in file order.
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
