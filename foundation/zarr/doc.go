// Package zarr reads Zarr v2 arrays from directory stores.
//
// It exists so dreamrank can import the Diffusion Policy replay buffers
// (PushT and friends) without Python. Only what those stores use is
// supported, and everything else fails loudly with ErrUnsupported rather
// than returning wrong numbers:
//
//   - dtypes <f4, <f8, <i8, <i4, |u1; order "C"; filters null;
//   - compressors null, zstd, and blosc (c-blosc 1.x frames, format
//     versions 1 and 2) with the zstd, lz4/lz4hc and zlib codecs and
//     no/byte/bit shuffle;
//   - "." and "/" dimension separators.
//
// Chunks are decoded strictly: every header field and offset is checked,
// and corrupt input returns ErrCorrupt instead of panicking or allocating
// what a hostile header asks for. A missing chunk is ErrMissingChunk unless
// the caller opts in to fill values with AllowMissingChunks.
//
// Large arrays are read by ranges of the first axis (Float32Rows and
// friends) so that a multi-gigabyte array can be streamed chunk by chunk.
package zarr
