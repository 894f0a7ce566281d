package episode

import "errors"

// Sentinel errors; everything returned wraps one of them (or an I/O error)
// and names the episode.
var (
	ErrExists   = errors.New("episode: already exists")
	ErrNotFound = errors.New("episode: not found")
	ErrInvalid  = errors.New("episode: invalid")
	ErrCorrupt  = errors.New("episode: corrupt")
	// ErrUnsupported: a file of a newer format version, or a replay buffer
	// this importer cannot read.
	ErrUnsupported = errors.New("episode: unsupported")
)
