package lerobot

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Version is a LeRobot dataset layout, the codebase_version in
// meta/info.json.
type Version string

// The layouts this package reads and writes. v2.0 has v2.1's layout (only
// its stats file differs, which import does not need), so it reads as v2.1.
const (
	V21 Version = "v2.1"
	V30 Version = "v3.0"
)

// ParseVersion accepts "v2.1", "2.1", "v3.0", "3.0" (and "v2.0" as v2.1).
func ParseVersion(s string) (Version, error) {
	switch strings.TrimPrefix(strings.TrimSpace(s), "v") {
	case "2.0", "2.1":
		return V21, nil
	case "3.0":
		return V30, nil
	}
	return "", fmt.Errorf("%w: %q (this build reads v2.0, v2.1 and v3.0)", ErrVersion, s)
}

// Feature is one entry of info.json's features: a parquet column, or a
// camera stored as video files.
type Feature struct {
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	// Names is a list, a dict such as {"motors": [...]}, or null; it is
	// kept as written.
	Names json.RawMessage `json:"names"`
	// Info describes a video stream (video.codec, video.fps, ...);
	// datasets ported to v2.0 call it video_info.
	Info      map[string]any `json:"info,omitempty"`
	VideoInfo map[string]any `json:"video_info,omitempty"`
	// FPS is written on every non-video feature by v3.0.
	FPS float64 `json:"fps,omitempty"`
}

// IsCamera reports whether the feature holds frames.
func (f Feature) IsCamera() bool { return f.DType == "video" || f.DType == "image" }

// Size is the number of values per frame (the product of the shape).
func (f Feature) Size() int {
	n := 1
	for _, d := range f.Shape {
		n *= d
	}
	return n
}

// videoCodec is the codec info.json declares for a video feature.
func (f Feature) videoCodec() string {
	for _, m := range []map[string]any{f.Info, f.VideoInfo} {
		if c, ok := m["video.codec"].(string); ok {
			return c
		}
	}
	return ""
}

// Info is meta/info.json. Fields a version does not use are zero.
type Info struct {
	CodebaseVersion string  `json:"codebase_version"`
	RobotType       *string `json:"robot_type"`
	TotalEpisodes   int     `json:"total_episodes"`
	TotalFrames     int     `json:"total_frames"`
	TotalTasks      int     `json:"total_tasks"`
	// v2.1 only.
	TotalVideos *int `json:"total_videos,omitempty"`
	TotalChunks *int `json:"total_chunks,omitempty"`
	ChunksSize  int  `json:"chunks_size"`
	// v3.0 only.
	DataFilesSizeInMB  int                `json:"data_files_size_in_mb,omitempty"`
	VideoFilesSizeInMB int                `json:"video_files_size_in_mb,omitempty"`
	FPS                float64            `json:"fps"`
	Splits             map[string]string  `json:"splits"`
	DataPath           string             `json:"data_path"`
	VideoPath          *string            `json:"video_path"`
	Features           map[string]Feature `json:"features"`

	version Version
}

// Version is the parsed codebase_version.
func (in *Info) Version() Version { return in.version }

// Limits on what ParseInfo accepts: far above any real dataset, low enough
// that a hostile info.json cannot make the reader allocate without bound.
const (
	maxFeatures     = 4096
	maxFeatureSize  = 1 << 26 // values per frame (a 4K RGB frame is 2^24.6)
	maxFPS          = 100000
	maxChunksSize   = 1 << 30
	maxTemplateSize = 1024
)

// ParseInfo parses and checks meta/info.json: a version this package
// reads, a positive fps, well-formed features, and path templates that
// expand inside the dataset.
func ParseInfo(b []byte) (*Info, error) {
	var in Info
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("%w: meta/info.json: %v", ErrCorrupt, err)
	}
	v, err := ParseVersion(in.CodebaseVersion)
	if err != nil {
		return nil, fmt.Errorf("meta/info.json: %w", err)
	}
	in.version = v
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: meta/info.json: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	if !(in.FPS > 0) || in.FPS > maxFPS || math.IsInf(in.FPS, 0) {
		return nil, bad("fps %v", in.FPS)
	}
	if in.TotalEpisodes < 0 || in.TotalFrames < 0 || in.TotalTasks < 0 {
		return nil, bad("negative totals")
	}
	if len(in.Features) == 0 || len(in.Features) > maxFeatures {
		return nil, bad("%d features", len(in.Features))
	}
	for name, f := range in.Features {
		if name == "" || strings.Contains(name, "/") {
			return nil, bad("feature name %q", name)
		}
		if f.DType == "" {
			return nil, bad("feature %q has no dtype", name)
		}
		if len(f.Shape) == 0 || len(f.Shape) > 5 {
			return nil, bad("feature %q has shape %v", name, f.Shape)
		}
		n := 1
		for _, d := range f.Shape {
			if d <= 0 || d > maxFeatureSize || n > maxFeatureSize/d {
				return nil, bad("feature %q has shape %v", name, f.Shape)
			}
			n *= d
		}
		if f.IsCamera() && len(f.Shape) != 3 {
			return nil, bad("camera %q has shape %v, want 3 dimensions", name, f.Shape)
		}
	}
	if len(in.DataPath) > maxTemplateSize || (in.VideoPath != nil && len(*in.VideoPath) > maxTemplateSize) {
		return nil, bad("path template longer than %d bytes", maxTemplateSize)
	}
	// Expanding the templates once here catches bad placeholders and
	// escapes before any file is opened.
	vars := map[string]any{"episode_chunk": 0, "episode_index": 0, "chunk_index": 0, "file_index": 0, "video_key": "observation.image"}
	if _, err := expand(in.DataPath, vars); err != nil {
		return nil, bad("data_path: %v", err)
	}
	if len(in.CameraKeys("video")) > 0 {
		if in.VideoPath == nil {
			return nil, bad("video features but no video_path")
		}
		if _, err := expand(*in.VideoPath, vars); err != nil {
			return nil, bad("video_path: %v", err)
		}
	}
	if v == V21 && (in.ChunksSize <= 0 || in.ChunksSize > maxChunksSize) {
		return nil, bad("chunks_size %d", in.ChunksSize)
	}
	return &in, nil
}

// CameraKeys lists the camera features (of the given dtype, "" for both)
// with observation.image first, then the others sorted: the first is the
// main camera.
func (in *Info) CameraKeys(dtype string) []string {
	var keys []string
	for k, f := range in.Features {
		if f.IsCamera() && (dtype == "" || f.DType == dtype) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == keyImage) != (keys[j] == keyImage) {
			return keys[i] == keyImage
		}
		return keys[i] < keys[j]
	})
	return keys
}
