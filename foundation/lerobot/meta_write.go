package lerobot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// finish closes the open files and writes the metadata of the layout.
func (x *exporter) finish() error {
	if x.data != nil {
		if err := x.data.close(); err != nil {
			return err
		}
		x.data = nil
	}
	if err := x.closeVideo(); err != nil {
		return err
	}
	if err := x.writeJSON(infoPath, x.info(), true); err != nil {
		return err
	}
	if x.v == V21 {
		return x.finish21()
	}
	return x.finish30()
}

// info builds meta/info.json as LeRobot's create_empty_dataset_info and
// the v2.1-to-v3.0 converter lay it out.
func (x *exporter) info() map[string]any {
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s_%d", prefix, i)
		}
		return out
	}
	scalar := func(dtype string) map[string]any {
		return map[string]any{"dtype": dtype, "shape": []int{1}, "names": nil}
	}
	feats := map[string]map[string]any{
		keyState:        {"dtype": "float32", "shape": []int{x.stateDim}, "names": names("state", x.stateDim)},
		keyAction:       {"dtype": "float32", "shape": []int{x.actionDim}, "names": names("action", x.actionDim)},
		keyTimestamp:    scalar("float32"),
		keyFrameIndex:   scalar("int64"),
		keyEpisodeIndex: scalar("int64"),
		keyIndex:        scalar("int64"),
		keyTaskIndex:    scalar("int64"),
		keyDone:         scalar("bool"),
	}
	if x.rewards {
		feats[keyReward] = scalar("float32")
	}
	if x.success {
		feats[keySuccess] = scalar("bool")
	}
	if x.gtD > 0 {
		feats[keyGroundTruth] = map[string]any{"dtype": "float32", "shape": []int{x.gtD}, "names": nil}
	}
	if x.v == V30 { // v3.0 records the rate on every non-video feature
		for _, f := range feats {
			f["fps"] = int(x.fps)
		}
	}
	feats[x.opts.Camera] = map[string]any{
		"dtype": "video", "shape": []int{x.h, x.w, 3}, "names": []string{"height", "width", "channels"},
		"info": map[string]any{
			"video.height": x.h, "video.width": x.w, "video.codec": x.codec, "video.pix_fmt": "yuv420p",
			"video.is_depth_map": false, "video.fps": int(x.fps), "video.channels": 3, "has_audio": false,
		},
	}
	var robot any
	if x.opts.RobotType != "" {
		robot = x.opts.RobotType
	}
	eps := len(x.episodes)
	in := map[string]any{
		"robot_type":     robot,
		"total_episodes": eps,
		"total_frames":   x.index,
		"total_tasks":    len(x.taskList),
		"chunks_size":    x.opts.ChunksSize,
		"fps":            int(x.fps),
		"splits":         map[string]string{"train": fmt.Sprintf("0:%d", eps)},
		"features":       feats,
	}
	if x.v == V21 {
		in["codebase_version"] = string(V21)
		in["total_videos"] = eps
		in["total_chunks"] = (eps + x.opts.ChunksSize - 1) / x.opts.ChunksSize
		in["data_path"], in["video_path"] = dataPath21, videoPath21
	} else {
		in["codebase_version"] = string(V30)
		in["data_files_size_in_mb"] = x.opts.DataFileMB
		in["video_files_size_in_mb"] = x.opts.VideoFileMB
		in["data_path"], in["video_path"] = dataPath30, videoPath30
	}
	return in
}

// finish21 writes episodes.jsonl, tasks.jsonl and episodes_stats.jsonl.
func (x *exporter) finish21() error {
	var eps, tasks, stats bytes.Buffer
	for i, row := range x.episodes {
		line := map[string]any{"episode_index": row["episode_index"], "tasks": row["tasks"], "length": row["length"],
			keyMeta: json.RawMessage(row[keyMeta].(string))}
		if err := jsonLine(&eps, line); err != nil {
			return err
		}
		if err := jsonLine(&stats, map[string]any{"episode_index": i, "stats": statsJSON(x.stats[i])}); err != nil {
			return err
		}
	}
	for i, t := range x.taskList {
		if err := jsonLine(&tasks, map[string]any{"task_index": i, "task": t}); err != nil {
			return err
		}
	}
	for p, b := range map[string][]byte{episodesJSONLPath: eps.Bytes(), tasksJSONLPath: tasks.Bytes(), episodesStatsPath: stats.Bytes()} {
		if err := x.writeFile(p, b); err != nil {
			return err
		}
	}
	return nil
}

func jsonLine(w *bytes.Buffer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}

// finish30 writes stats.json, tasks.parquet and the episodes parquet.
func (x *exporter) finish30() error {
	agg := map[string]stat{}
	for k := range x.stats[0] {
		var ss []stat
		for _, s := range x.stats {
			ss = append(ss, s[k])
		}
		agg[k] = aggregate(ss)
	}
	if err := x.writeJSON(statsPath, statsJSON(agg), true); err != nil {
		return err
	}
	if err := x.writeTasks30(); err != nil {
		return err
	}
	// Episode rows: fixed columns, the video placement, the flattened
	// statistics (stats/<feature>/<stat>) and the dreamrank metadata.
	cols := []column{
		colI64("episode_index"), colStrings("tasks"), colI64("length"),
		colI64("data/chunk_index"), colI64("data/file_index"), colI64("dataset_from_index"), colI64("dataset_to_index"),
		colI64("meta/episodes/chunk_index"), colI64("meta/episodes/file_index"), colString(keyMeta),
	}
	p := "videos/" + x.opts.Camera + "/"
	cols = append(cols, colI64(p+"chunk_index"), colI64(p+"file_index"), colF64(p+"from_timestamp"), colF64(p+"to_timestamp"))
	var keys []string
	for k := range x.stats[0] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		depth := 1
		if x.stats[0][k].image {
			depth = 3
		}
		for _, n := range statNames {
			name := "stats/" + k + "/" + n
			switch {
			case n == "count":
				cols = append(cols, colNested(name, leafOf("int64"), "int64", 1))
			case x.stats[0][k].boolean && (n == "min" || n == "max"):
				cols = append(cols, colNested(name, leafOf("bool"), "bool", 1))
			default:
				cols = append(cols, colNested(name, leafOf("float64"), "float64", depth))
			}
		}
	}
	rel, _ := expand(episodes30, map[string]any{"chunk_index": 0, "file_index": 0})
	tw, err := x.newTable(rel, cols)
	if err != nil {
		return err
	}
	defer tw.abort()
	for _, row := range x.episodes {
		row["meta/episodes/chunk_index"], row["meta/episodes/file_index"] = int64(0), int64(0)
		if err := tw.write(row); err != nil {
			return err
		}
	}
	return tw.close()
}

// writeTasks30 writes meta/tasks.parquet as pandas does for LeRobot's
// DataFrame (index = task text, column task_index): the text in column
// __index_level_0__, and pandas metadata naming it the index, so that
// pd.read_parquet gives tasks.loc[text].task_index back.
func (x *exporter) writeTasks30() error {
	pandas := map[string]any{
		"index_columns": []string{"__index_level_0__"},
		"column_indexes": []map[string]any{{"name": nil, "field_name": nil, "pandas_type": "unicode", "numpy_type": "object",
			"metadata": map[string]string{"encoding": "UTF-8"}}},
		"columns": []map[string]any{
			{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": nil},
			{"name": nil, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": nil},
		},
		"creator":        map[string]string{"library": "dreamrank", "version": "1"},
		"pandas_version": "2.2.3",
	}
	pj, _ := json.Marshal(pandas)
	p := filepath.Join(x.root, filepath.FromSlash(tasksParquetPath))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tw, err := newTableWriter(p, []column{colI64("task_index"), colString("__index_level_0__")}, map[string]string{"pandas": string(pj)})
	if err != nil {
		return err
	}
	defer tw.abort()
	for i, t := range x.taskList {
		if err := tw.write(map[string]any{"task_index": int64(i), "__index_level_0__": t}); err != nil {
			return err
		}
	}
	return tw.close()
}

func (x *exporter) writeJSON(rel string, v any, indent bool) error {
	var b []byte
	var err error
	if indent {
		b, err = json.MarshalIndent(v, "", "    ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	return x.writeFile(rel, append(b, '\n'))
}

// writeFile writes a metadata file and makes it durable.
func (x *exporter) writeFile(rel string, b []byte) error {
	p := filepath.Join(x.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", strings.TrimPrefix(p, x.root), err)
	}
	return nil
}
