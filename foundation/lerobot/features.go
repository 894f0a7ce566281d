package lerobot

// Feature keys LeRobot gives a meaning to (lerobot/datasets/utils.py
// DEFAULT_FEATURES plus the conventional observation and reward keys),
// and the one this package adds for the simulator's ground truth.
const (
	keyState        = "observation.state"
	keyAction       = "action"
	keyImage        = "observation.image"   // the single-camera form (PushT)
	keyImagesPrefix = "observation.images." // observation.images.<camera>
	keyTimestamp    = "timestamp"
	keyFrameIndex   = "frame_index"
	keyEpisodeIndex = "episode_index"
	keyIndex        = "index"
	keyTaskIndex    = "task_index"
	keyReward       = "next.reward"
	keyDone         = "next.done"
	keySuccess      = "next.success"
	// keyGroundTruth carries episode.Episode.GroundTruth. It is outside
	// the observation.* namespace on purpose: LeRobot turns every
	// observation.* feature into a policy input, and ground truth must
	// never be shown to a model.
	keyGroundTruth = "dreamrank.ground_truth"
	// keyMeta is the column (v3.0 episodes parquet) or key (v2.1
	// episodes.jsonl) holding the episode's dreamrank metadata as JSON, so
	// that an export re-imports with its metadata intact. LeRobot ignores
	// it.
	keyMeta = "dreamrank_meta"
)
