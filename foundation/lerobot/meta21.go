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
)

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

// openV21 reads v2.1's jsonl metadata; each episode's files follow from
// the path templates (episode_chunk = episode_index / chunks_size).
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
