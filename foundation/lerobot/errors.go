package lerobot

import "errors"

// Sentinel errors; everything returned wraps one of them (or an I/O or
// context error) and names the file or episode.
var (
	// ErrNotDataset: the directory has no meta/info.json.
	ErrNotDataset = errors.New("lerobot: not a LeRobot dataset")
	// ErrVersion: a codebase_version this package does not read.
	ErrVersion = errors.New("lerobot: unsupported codebase version")
	// ErrMissing: a file the metadata points to is not there.
	ErrMissing = errors.New("lerobot: missing file")
	// ErrCorrupt: files that disagree with each other or with info.json
	// (lengths, indices, shapes, types).
	ErrCorrupt = errors.New("lerobot: corrupt dataset")
	// ErrUnsupported: a well-formed dataset this package cannot map onto
	// episodes (no observation.state, a dtype it does not convert, ...).
	ErrUnsupported = errors.New("lerobot: unsupported dataset")
	// ErrCodec: a video that this machine's OpenCV/ffmpeg cannot decode.
	ErrCodec = errors.New("lerobot: video codec")
	// ErrOutputNotEmpty: export refuses to write into a non-empty directory
	// unless forced.
	ErrOutputNotEmpty = errors.New("lerobot: output directory is not empty")
)
