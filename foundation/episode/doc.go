// Package episode is the one episode format of dreamrank: what a robot (or
// the simulator, or an imported dataset) did, step by step, plus metadata
// for steering and filtering. Every later part (world-model training,
// evaluation, reports) reads episodes through this package.
//
// An Episode holds T steps of equal-length arrays (RGB frames,
// proprioception, actions, timestamps, and optionally the simulator's
// ground-truth state and rewards) and a Meta. A Store keeps episodes in a
// directory, one folder per episode id, written atomically; the on-disk
// layout is documented in FORMAT.md. ImportReplayBuffer converts Diffusion
// Policy zarr replay buffers (PushT's human demonstrations) into episodes.
//
// The package is pure Go. Writing the human-viewable video.mp4 is done by a
// VideoWriter the caller passes in (video.WriteMP4), so that programs which
// only read episodes do not link OpenCV.
package episode
