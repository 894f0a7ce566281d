package lerobot

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"dreamrank/foundation/episode"
)

// frameData is the per-frame columns of one data file, decoded once and
// sliced per episode (a v3.0 file holds many).
type frameData struct {
	rows                int
	episode             []int64
	state, action, gt   []float32
	stateDim, actionDim int
	gtDim               int
	timestamp           []float32
	taskIndex           []int64
	reward              []float32
	success             []bool
	images              [][]byte // an image-dtype main camera
	spans               map[int64][2]int
}

// loadFrames decodes the columns import needs from one data file.
func (d *Dataset) loadFrames(rel, camera string) (fd *frameData, err error) {
	defer recoverCorrupt(&err, rel)
	t, err := openTable(filepath.Join(d.Root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	feat := d.Info.Features
	fd = &frameData{rows: t.rows, spans: map[int64][2]int{}}
	need := func(key string) (Feature, error) {
		f, ok := feat[key]
		if !ok {
			return f, fmt.Errorf("%w: %s: no %q feature in info.json", ErrUnsupported, d.Root, key)
		}
		return f, nil
	}
	for _, c := range []struct {
		key string
		dst *[]float32
		dim *int
	}{{keyState, &fd.state, &fd.stateDim}, {keyAction, &fd.action, &fd.actionDim}} {
		f, err := need(c.key)
		if err != nil {
			return nil, err
		}
		*c.dim = f.Size()
		if *c.dst, err = t.floats(c.key, *c.dim); err != nil {
			return nil, err
		}
	}
	if f, ok := feat[keyGroundTruth]; ok && t.has(keyGroundTruth) {
		fd.gtDim = f.Size()
		if fd.gt, err = t.floats(keyGroundTruth, fd.gtDim); err != nil {
			return nil, err
		}
	}
	if fd.episode, err = t.int64s(keyEpisodeIndex); err != nil {
		return nil, err
	}
	if fd.timestamp, err = t.floats(keyTimestamp, 1); err != nil {
		return nil, err
	}
	if t.has(keyTaskIndex) {
		if fd.taskIndex, err = t.int64s(keyTaskIndex); err != nil {
			return nil, err
		}
	}
	if t.has(keyReward) {
		if fd.reward, err = t.floats(keyReward, 1); err != nil {
			return nil, err
		}
	}
	if t.has(keySuccess) {
		if fd.success, err = t.bools(keySuccess); err != nil {
			return nil, err
		}
	}
	if feat[camera].DType == "image" {
		if fd.images, err = t.blobs(camera); err != nil {
			return nil, err
		}
	}
	// Each episode's rows must be contiguous: that is how LeRobot writes
	// them and how it indexes them.
	for i, e := range fd.episode {
		s, ok := fd.spans[e]
		switch {
		case !ok:
			fd.spans[e] = [2]int{i, i + 1}
		case s[1] == i:
			fd.spans[e] = [2]int{s[0], i + 1}
		default:
			return nil, fmt.Errorf("%w: %s: rows of episode %d are not contiguous", ErrCorrupt, rel, e)
		}
	}
	return fd, nil
}

// reader assembles episodes from a dataset, keeping the last data file
// and the open video files between calls (episodes come in file order).
type reader struct {
	d       *Dataset
	camera  string
	source  string
	policy  string
	file    string
	frames  *frameData
	videos  cursors
	created time.Time
}

func (d *Dataset) newReader(camera, source, policy string) *reader {
	codecs := map[string]string{}
	for k, f := range d.Info.Features {
		codecs[k] = f.videoCodec()
	}
	return &reader{d: d, camera: camera, source: source, policy: policy,
		videos: cursors{root: d.Root, open: map[string]*videoCursor{}, codec: codecs}}
}

func (r *reader) close() { r.videos.close() }

// read builds episode ref as an episode.Episode with the given id.
func (r *reader) read(ref EpisodeRef, id string) (*episode.Episode, error) {
	if r.file != ref.DataFile || r.frames == nil {
		fd, err := r.d.loadFrames(ref.DataFile, r.camera)
		if err != nil {
			return nil, err
		}
		r.file, r.frames = ref.DataFile, fd
	}
	fd := r.frames
	span, ok := fd.spans[int64(ref.Index)]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no rows of episode %d", ErrCorrupt, ref.DataFile, ref.Index)
	}
	lo, hi := span[0], span[1]
	n := hi - lo
	if n != ref.Length {
		return nil, fmt.Errorf("%w: episode %d: the metadata says %d frames, %s holds %d", ErrCorrupt, ref.Index, ref.Length, ref.DataFile, n)
	}
	fps := r.d.Info.FPS
	e := &episode.Episode{}
	e.Proprio = rows(fd.state[lo*fd.stateDim:hi*fd.stateDim], fd.stateDim)
	e.Actions = rows(fd.action[lo*fd.actionDim:hi*fd.actionDim], fd.actionDim)
	if fd.gt != nil {
		e.GroundTruth = rows(fd.gt[lo*fd.gtDim:hi*fd.gtDim], fd.gtDim)
	}
	if fd.reward != nil {
		e.Rewards = append([]float32(nil), fd.reward[lo:hi]...)
	}
	// Timestamps: LeRobot stores float32 seconds from the episode start.
	// Where a value is exactly float32(k/fps) the float64 k/fps is meant,
	// so a store that wrote k/fps gets it back bit for bit.
	e.Timestamps = make([]float64, n)
	t0 := float64(fd.timestamp[lo])
	for k := 0; k < n; k++ {
		ts := float64(fd.timestamp[lo+k])
		if nominal := float64(k) / fps; float32(nominal) == fd.timestamp[lo+k] {
			ts = nominal + t0
		}
		e.Timestamps[k] = ts - t0
	}
	if err := r.readFrames(ref, fd, lo, e); err != nil {
		return nil, err
	}
	r.fillMeta(ref, fd, lo, hi, id, e)
	return e, nil
}

// readFrames fills the frames from the main camera: decoded images
// (image dtype) or the video span (both layouts: v2.1's span is a whole
// per-episode file).
func (r *reader) readFrames(ref EpisodeRef, fd *frameData, lo int, e *episode.Episode) error {
	n := ref.Length
	e.Frames = make([][]uint8, n)
	setSize := func(k, w, h int) error {
		if k == 0 {
			e.FrameW, e.FrameH, e.Channels = w, h, 3
		} else if w != e.FrameW || h != e.FrameH {
			return fmt.Errorf("%w: episode %d frame %d is %dx%d, frame 0 %dx%d", ErrCorrupt, ref.Index, k, w, h, e.FrameW, e.FrameH)
		}
		return nil
	}
	if fd.images != nil {
		for k := 0; k < n; k++ {
			rgb, w, h, err := decodeImage(fd.images[lo+k])
			if err != nil {
				return fmt.Errorf("%w: episode %d frame %d of %s: %v", ErrCorrupt, ref.Index, k, r.camera, err)
			}
			if err := setSize(k, w, h); err != nil {
				return err
			}
			e.Frames[k] = rgb
		}
		return nil
	}
	vr, ok := ref.videos[r.camera]
	if !ok {
		return fmt.Errorf("%w: episode %d: no video of %s", ErrCorrupt, ref.Index, r.camera)
	}
	c, err := r.videos.get(r.camera, vr)
	if err != nil {
		return fmt.Errorf("episode %d: %w", ref.Index, err)
	}
	tol := 0.5 / r.d.Info.FPS
	for k := 0; k < n; k++ {
		rgb, w, h, err := c.frameAt(vr.from+float64(fd.timestamp[lo+k]), tol)
		if err != nil {
			return fmt.Errorf("episode %d frame %d: %w", ref.Index, k, err)
		}
		if err := setSize(k, w, h); err != nil {
			return err
		}
		e.Frames[k] = rgb
	}
	return nil
}

// fillMeta sets the metadata: restored from dreamrank_meta when the
// dataset was exported by dreamrank, else from the dataset.
func (r *reader) fillMeta(ref EpisodeRef, fd *frameData, lo, hi int, id string, e *episode.Episode) {
	h, w, c := e.FrameH, e.FrameW, e.Channels // from the decoded frames
	if len(ref.meta) > 0 {
		var m episode.Meta
		if json.Unmarshal(ref.meta, &m) == nil {
			e.Meta = m
		}
	}
	orig := e.ID
	// Shapes come from the arrays (Put fills them), never from the JSON.
	e.Meta.Format, e.ID, e.Steps = 0, id, 0
	e.FrameH, e.FrameW, e.Channels = h, w, c
	e.ProprioDim, e.ActionDim, e.GroundTruthDim, e.HasRewards = 0, 0, 0, false
	if r.source != "" {
		e.Source = r.source
	}
	if e.Policy == "" {
		e.Policy = r.policy
	}
	if e.Instruction == "" {
		if fd.taskIndex != nil {
			e.Instruction, _ = r.d.taskText(fd.taskIndex[lo])
		}
		if e.Instruction == "" && len(ref.Tasks) > 0 {
			e.Instruction = ref.Tasks[0]
		}
	}
	if e.Outcome == nil && fd.success != nil {
		o := &episode.Outcome{}
		for _, s := range fd.success[lo:hi] {
			o.Success = o.Success || s
		}
		for _, x := range e.Rewards {
			o.MaxReward = math.Max(o.MaxReward, float64(x))
		}
		e.Outcome = o
	}
	if e.Created.IsZero() {
		e.Created = r.created
	}
	extra := map[string]string{}
	for k, v := range e.Extra {
		extra[k] = v
	}
	extra["lerobot_dir"] = r.d.Root
	extra["lerobot_version"] = string(r.d.Info.Version())
	extra["episode_index"] = strconv.Itoa(ref.Index)
	if orig != "" && orig != id {
		extra["dreamrank_id"] = orig
	}
	if rt := r.d.Info.RobotType; rt != nil && *rt != "" {
		extra["robot_type"] = *rt
	}
	if len(ref.Tasks) > 1 {
		b, _ := json.Marshal(ref.Tasks)
		extra["tasks"] = string(b)
	}
	e.Extra = extra
}

// rows splits a flat slice into rows of dim values (aliasing it).
func rows(flat []float32, dim int) [][]float32 {
	out := make([][]float32, len(flat)/dim)
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out
}
