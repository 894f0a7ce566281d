package lerobot

import (
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
