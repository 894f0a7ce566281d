// Package lerobot reads LeRobot datasets into the episode store and
// writes store episodes back out as LeRobot datasets, in both layouts
// teams record and train with:
//
//   - v2.1 (also read: v2.0): one parquet file and one mp4 per camera per
//     episode under data/chunk-XXX/ and videos/chunk-XXX/<camera>/, with
//     meta/info.json, meta/episodes.jsonl, meta/tasks.jsonl and
//     meta/episodes_stats.jsonl;
//   - v3.0: parquet files holding many episodes (data/chunk-XXX/file-XXX)
//     and mp4 files holding many episodes back to back
//     (videos/<camera>/chunk-XXX/file-XXX.mp4), each episode placed by
//     dataset_from_index/dataset_to_index and
//     videos/<camera>/from_timestamp/to_timestamp in
//     meta/episodes/chunk-XXX/file-XXX.parquet, with meta/info.json,
//     meta/tasks.parquet and meta/stats.json.
//
// The layout is chosen by info.json's codebase_version; paths come from its
// data_path and video_path templates (checked to stay inside the dataset).
//
// # Feature mapping
//
//	LeRobot feature                         episode.Episode
//	observation.state (float32 [P])         Proprio
//	action (float32 [A])                    Actions
//	observation.image or                    Frames (one camera: the store keeps one;
//	  observation.images.<cam> (video/image)  ImportOptions.Camera picks it, default
//	                                          observation.image, else the first
//	                                          observation.images.* by name)
//	timestamp (float32, s)                  Timestamps (float64; exactly k/fps when
//	                                          the value is float32(k/fps))
//	fps (info.json)                         the step rate (export: rounded mean rate)
//	task_index -> tasks                     Instruction
//	next.reward                             Rewards
//	next.success                            Outcome.Success (any frame), MaxReward
//	next.done                               written as true on the last frame
//	dreamrank.ground_truth                  GroundTruth (kept out of observation.*:
//	                                          LeRobot feeds those to policies)
//	episode_index, frame_index, index       Extra["episode_index"]; ids are ImportID
//	episodes' dreamrank_meta (JSON)         the whole Meta of an exported episode
//
// Videos are decoded with OpenCV's ffmpeg (foundation/video): AV1 (LeRobot's
// default, via libdav1d), h264, hevc and mpeg4 decode on Debian 12; a video
// that does not decode is ErrCodec naming the codec. Frames are found by
// time, as LeRobot does: from_timestamp plus the frame's timestamp, within
// half a frame. Exports are written as h264 (OpenCV's AV1 encoder, libaom,
// manages a few frames per second), with float32 LIST columns, int64
// indices, float32 timestamps, the datasets library's "huggingface" schema
// metadata, LeRobot statistics (min, max, mean, std, count; images per
// channel in 0..1) and, in v3.0, a tasks.parquet whose pandas metadata
// makes the task text the DataFrame index as LeRobot expects.
package lerobot
