package zarr

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them
// (or an *fs.PathError for plain I/O failures) and names the array or chunk.
var (
	// ErrUnsupported: a valid store that uses a feature this reader does
	// not implement (dtype, order, compressor, codec, filters, ...).
	ErrUnsupported = errors.New("zarr: unsupported")
	// ErrCorrupt: malformed metadata, a bad compressed header, a
	// decompression failure or a size mismatch.
	ErrCorrupt = errors.New("zarr: corrupt")
	// ErrMissingChunk: a chunk file is absent and missing chunks were not
	// allowed (or the array has no fill value).
	ErrMissingChunk = errors.New("zarr: missing chunk")
	// ErrNotFound: the group or array metadata does not exist.
	ErrNotFound = errors.New("zarr: not found")
	// ErrRange: a requested row range lies outside the array.
	ErrRange = errors.New("zarr: row range out of bounds")
)
