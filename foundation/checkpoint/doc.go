// Package checkpoint writes and reads the project's versioned model
// checkpoints: a directory per checkpoint holding checkpoint.json (format,
// version, step, the model's configuration, tensor names and shapes, and a
// SHA-256 per file), weights.bin (little-endian float32, tensors in order),
// optionally optimizer.bin and manifest.json (the training data). A training
// output directory holds several checkpoints and a "latest" pointer.
//
// Writes are atomic: a checkpoint is built in a temporary directory and
// renamed into place, then latest is replaced by rename, so a reader sees the
// old or the new checkpoint, never half of one. Reads verify every checksum.
//
// Models own their architecture: they pass tensors in, and on reading check
// the names and shapes against what they expect.
package checkpoint
