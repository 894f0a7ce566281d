package lerobot

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/video"
)

// exporter writes one dataset, episode by episode, in either layout.
type exporter struct {
	v                        Version
	opts                     ExportOptions
	fourccs                  []string
	root                     string
	fps                      float64
	h, w                     int
	stateDim, actionDim, gtD int
	rewards, success         bool
	cols                     []column

	tasks    map[string]int
	taskList []string
	index    int64 // frames written so far: the next frame's global index
	retimed  int
	codec    string

	// v3.0: the open data and video files and where they stand.
	data                *tableWriter
	dataChunk, dataFile int
	dataBytes           int64
	vid                 *video.StreamWriter
	vidPath             string
	vidChunk, vidFile   int
	vidOpened           bool

	episodes []map[string]any // episode metadata rows
	stats    []map[string]stat
}

func newExporter(metas []episode.Meta, opts ExportOptions, fourccs []string) (*exporter, error) {
	x := &exporter{v: opts.Version, opts: opts, fourccs: fourccs, tasks: map[string]int{},
		rewards: true, success: true}
	m0 := metas[0]
	x.h, x.w, x.stateDim, x.actionDim, x.gtD = m0.FrameH, m0.FrameW, m0.ProprioDim, m0.ActionDim, m0.GroundTruthDim
	// One schema for the whole dataset: sizes must agree; optional
	// columns are written only when every episode has them.
	for _, m := range metas {
		if m.FrameH != x.h || m.FrameW != x.w || m.Channels != 3 || m.ProprioDim != x.stateDim || m.ActionDim != x.actionDim {
			return nil, fmt.Errorf("%w: episode %s has %dx%dx%d frames, proprio %d, actions %d; episode %s %dx%dx3, %d, %d: a LeRobot dataset has one shape per feature (filter the export)",
				ErrUnsupported, m.ID, m.FrameH, m.FrameW, m.Channels, m.ProprioDim, m.ActionDim, m0.ID, x.h, x.w, x.stateDim, x.actionDim)
		}
		if m.GroundTruthDim != x.gtD {
			x.gtD = 0
		}
		x.rewards = x.rewards && m.HasRewards
		x.success = x.success && m.Outcome != nil
	}
	if x.opts.FPS > 0 {
		x.fps = float64(x.opts.FPS)
	}
	x.cols = []column{
		colF32s(keyState, x.stateDim), colF32s(keyAction, x.actionDim),
		colF32(keyTimestamp), colI64(keyFrameIndex), colI64(keyEpisodeIndex), colI64(keyIndex), colI64(keyTaskIndex),
		colBool(keyDone),
	}
	if x.rewards {
		x.cols = append(x.cols, colF32(keyReward))
	}
	if x.success {
		x.cols = append(x.cols, colBool(keySuccess))
	}
	if x.gtD > 0 {
		x.cols = append(x.cols, colF32s(keyGroundTruth, x.gtD))
	}
	return x, nil
}

// taskOf is the task text an episode is filed under.
func taskOf(e *episode.Episode) string {
	switch {
	case e.Instruction != "":
		return e.Instruction
	case e.Scenario != "":
		return e.Scenario
	}
	return "unspecified task"
}

// add writes one episode: its frame rows, its video, its statistics and
// its metadata row.
func (x *exporter) add(e *episode.Episode, ei int) error {
	n := e.Steps
	if x.fps == 0 {
		x.fps = float64(roundFPS(stepRate(e.Timestamps)))
		if x.fps <= 0 {
			x.fps = 10
		}
	} else if x.opts.FPS == 0 && n > 1 && roundFPS(stepRate(e.Timestamps)) != int(x.fps) {
		return fmt.Errorf("%w: it steps at %.2f Hz, the dataset at %v fps (choose an fps to retime it)", ErrUnsupported, stepRate(e.Timestamps), x.fps)
	}
	for k, t := range e.Timestamps {
		if math.Abs(t-float64(k)/x.fps) > 1e-3 {
			x.retimed++
			break
		}
	}
	task := taskOf(e)
	ti, ok := x.tasks[task]
	if !ok {
		ti = len(x.taskList)
		x.tasks[task] = ti
		x.taskList = append(x.taskList, task)
	}
	meta, err := json.Marshal(e.Meta)
	if err != nil {
		return err
	}
	row := map[string]any{"episode_index": int64(ei), "tasks": []string{task}, "length": int64(n), keyMeta: string(meta)}

	// Data rows.
	var tw *tableWriter
	if x.v == V21 {
		p, _ := expand(dataPath21, map[string]any{"episode_chunk": ei / x.opts.ChunksSize, "episode_index": ei})
		if tw, err = x.newTable(p, x.cols); err != nil {
			return err
		}
		defer tw.abort()
	} else {
		if err := x.rotateData(n); err != nil {
			return err
		}
		tw = x.data
		row["data/chunk_index"], row["data/file_index"] = int64(x.dataChunk), int64(x.dataFile)
		row["dataset_from_index"], row["dataset_to_index"] = x.index, x.index+int64(n)
	}
	for k := 0; k < n; k++ {
		r := map[string]any{
			keyState: e.Proprio[k], keyAction: e.Actions[k],
			keyTimestamp: float32(float64(k) / x.fps), keyFrameIndex: int64(k), keyEpisodeIndex: int64(ei),
			keyIndex: x.index + int64(k), keyTaskIndex: int64(ti), keyDone: k == n-1,
		}
		if x.rewards {
			r[keyReward] = e.Rewards[k]
		}
		if x.success {
			r[keySuccess] = k == n-1 && e.Outcome.Success
		}
		if x.gtD > 0 {
			r[keyGroundTruth] = e.GroundTruth[k]
		}
		if err := tw.write(r); err != nil {
			return err
		}
	}
	if x.v == V21 {
		if err := tw.close(); err != nil {
			return err
		}
	}

	// Video.
	if err := x.writeVideo(e, ei, row); err != nil {
		return err
	}

	// Statistics, per episode as LeRobot keeps them.
	st := x.episodeStats(e, ei, ti)
	for k, s := range st {
		for _, name := range statNames {
			row["stats/"+k+"/"+name] = s.values(name)
		}
	}
	x.stats = append(x.stats, st)
	x.episodes = append(x.episodes, row)
	x.index += int64(n)
	return nil
}

func (x *exporter) newTable(rel string, cols []column) (*tableWriter, error) {
	p := filepath.Join(x.root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	return newTableWriter(p, cols, nil)
}

// rotateData starts a new v3.0 data file when the next episode would take
// the current one past DataFileMB (LeRobot's rule, with the row size
// estimated from the columns).
func (x *exporter) rotateData(n int) error {
	rowBytes := int64(4*(x.stateDim+x.actionDim+x.gtD) + 4 + 4*8 + 2 + 4)
	if x.data != nil && x.dataBytes+rowBytes*int64(n) >= x.limit(x.opts.DataFileMB) {
		if err := x.data.close(); err != nil {
			return err
		}
		x.data, x.dataBytes = nil, 0
		x.dataChunk, x.dataFile = nextFile(x.dataChunk, x.dataFile, x.opts.ChunksSize)
	}
	if x.data == nil {
		p, _ := expand(dataPath30, map[string]any{"chunk_index": x.dataChunk, "file_index": x.dataFile})
		tw, err := x.newTable(p, x.cols)
		if err != nil {
			return err
		}
		x.data = tw
	}
	x.dataBytes += rowBytes * int64(n)
	return nil
}

// limit is a file size limit in bytes.
func (x *exporter) limit(mb int) int64 {
	if x.opts.fileBytes > 0 {
		return x.opts.fileBytes
	}
	return int64(mb) << 20
}

// nextFile is LeRobot's update_chunk_file_indices.
func nextFile(chunk, file, chunksSize int) (int, int) {
	if file == chunksSize-1 {
		return chunk + 1, 0
	}
	return chunk, file + 1
}

// writeVideo writes the episode's frames: its own file (v2.1) or appended
// to the current file, whose frame times then place it (v3.0).
func (x *exporter) writeVideo(e *episode.Episode, ei int, row map[string]any) error {
	key := x.opts.Camera
	if x.v == V30 && x.vid != nil {
		if st, err := os.Stat(x.vidPath); err == nil && st.Size() >= x.limit(x.opts.VideoFileMB) {
			if err := x.closeVideo(); err != nil {
				return err
			}
			x.vidChunk, x.vidFile = nextFile(x.vidChunk, x.vidFile, x.opts.ChunksSize)
		}
	}
	if x.vid == nil {
		var rel string
		if x.v == V21 {
			rel, _ = expand(videoPath21, map[string]any{"episode_chunk": ei / x.opts.ChunksSize, "video_key": key, "episode_index": ei})
		} else {
			rel, _ = expand(videoPath30, map[string]any{"video_key": key, "chunk_index": x.vidChunk, "file_index": x.vidFile})
		}
		p := filepath.Join(x.root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		sw, err := video.NewStreamWriter(p, x.w, x.h, x.fps, x.fourccs)
		if err != nil {
			return err
		}
		x.vid, x.vidPath = sw, p
		if x.codec == "" {
			x.codec = video.CodecName(sw.Fourcc())
		}
	}
	from := float64(x.vid.Frames()) / x.fps
	for _, f := range e.Frames {
		if err := x.vid.Write(f); err != nil {
			return err
		}
	}
	if x.v == V21 {
		return x.closeVideo()
	}
	p := "videos/" + key + "/"
	row[p+"chunk_index"], row[p+"file_index"] = int64(x.vidChunk), int64(x.vidFile)
	row[p+"from_timestamp"], row[p+"to_timestamp"] = from, float64(x.vid.Frames())/x.fps
	return nil
}

func (x *exporter) closeVideo() error {
	if x.vid == nil {
		return nil
	}
	err := x.vid.Close()
	x.vid = nil
	return err
}

// episodeStats computes the statistics of every feature of the episode.
func (x *exporter) episodeStats(e *episode.Episode, ei, ti int) map[string]stat {
	n := e.Steps
	rowsOf := func(r [][]float32) func(i, j int) float64 {
		return func(i, j int) float64 { return float64(r[i][j]) }
	}
	scalar := func(f func(i int) float64) stat {
		return vecStat(n, 1, func(i, _ int) float64 { return f(i) })
	}
	st := map[string]stat{
		keyState:        vecStat(n, x.stateDim, rowsOf(e.Proprio)),
		keyAction:       vecStat(n, x.actionDim, rowsOf(e.Actions)),
		keyTimestamp:    scalar(func(i int) float64 { return float64(float32(float64(i) / x.fps)) }),
		keyFrameIndex:   scalar(func(i int) float64 { return float64(i) }),
		keyEpisodeIndex: scalar(func(int) float64 { return float64(ei) }),
		keyIndex:        scalar(func(i int) float64 { return float64(x.index) + float64(i) }),
		keyTaskIndex:    scalar(func(int) float64 { return float64(ti) }),
		x.opts.Camera:   imageStat(e.Frames),
	}
	done := scalar(func(i int) float64 { return b2f(i == n-1) })
	done.boolean = true
	st[keyDone] = done
	if x.rewards {
		st[keyReward] = scalar(func(i int) float64 { return float64(e.Rewards[i]) })
	}
	if x.success {
		s := scalar(func(i int) float64 { return b2f(i == n-1 && e.Outcome.Success) })
		s.boolean = true
		st[keySuccess] = s
	}
	if x.gtD > 0 {
		st[keyGroundTruth] = vecStat(n, x.gtD, rowsOf(e.GroundTruth))
	}
	return st
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// abort closes whatever is open after a failure.
func (x *exporter) abort() {
	if x.data != nil {
		x.data.abort()
		x.data = nil
	}
	if x.vid != nil {
		x.vid.Close()
		x.vid = nil
	}
}
