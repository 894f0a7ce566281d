package flow

import (
	"errors"
	"fmt"
)

// ModelConfig is the policy's architecture.
type ModelConfig struct {
	FrameH int `json:"frame_h"`
	FrameW int `json:"frame_w"`
	// Pool is the average-pooling factor applied to frames before the
	// encoder (2: 96x96 frames are seen at 48x48).
	Pool int `json:"pool"`
	// C1..C3 are the encoder's channels; C3 is the number of keypoints.
	C1 int `json:"c1"`
	C2 int `json:"c2"`
	C3 int `json:"c3"`
	// Hidden is the flow head's width, Layers its hidden layers.
	Hidden int `json:"hidden"`
	Layers int `json:"layers"`
	// Horizon is the number of actions per chunk.
	Horizon    int `json:"horizon"`
	ActionDim  int `json:"action_dim"`
	ProprioDim int `json:"proprio_dim"`
	// TaskDim is the size of the hashed bag of task words.
	TaskDim int `json:"task_dim"`
	// SubgoalSize is the side of the pooled subgoal image fed to the head.
	SubgoalSize int `json:"subgoal_size"`
	// TimeDim is the size of the sinusoidal flow-time embedding.
	TimeDim int `json:"time_dim"`
	// Scale maps positions to [-1, 1]: x/Scale*2 - 1 (PushT: 512).
	Scale float64 `json:"scale"`
	// AuxPose adds a linear head on the keypoints that predicts the block
	// pose (x, y, sin, cos) during end-to-end training; the labels are read
	// from the frames by the PushT pose reader, never from simulator state.
	// It gives the encoder a dense signal where behaviour cloning alone
	// teaches it slowly; inference ignores the head.
	AuxPose bool `json:"aux_pose,omitempty"`
	// Encoder is the observation front end: EncoderConv (the default, "")
	// or EncoderPose (the fixed pose reader; C1..C3 and AuxPose are then
	// unused, and training has no end-to-end stage).
	Encoder string `json:"encoder,omitempty"`
	// Relative, when positive, makes the head predict each action as its
	// offset from the pusher's position in normalised units times Relative
	// ((norm(a) - norm(p)) * Relative) instead of the absolute position: a
	// chunk's first actions lie within a few pixels of the pusher, which an
	// absolute output must hit to 1% of the table. 0: absolute (the
	// checkpoints before it).
	Relative float64 `json:"relative,omitempty"`
	// Temperature is the default scale of the sampler's initial noise (the
	// "temperature" option overrides it; 0 means 1, as trained): chosen on
	// held-out training seeds, like Execute a property of how the
	// checkpoint is best run, not of its weights.
	Temperature float64 `json:"temperature,omitempty"`
	// Execute is how many actions of each chunk the policy was trained to
	// run before it is asked again (DAgger rollouts fix it); its Spec
	// reports it. 0: no preference.
	Execute int `json:"execute,omitempty"`
}

// PoseModelConfig is the PushT policy on the pose reader's front end.
func PoseModelConfig() ModelConfig {
	c := DefaultModelConfig()
	c.Encoder, c.AuxPose, c.Relative = EncoderPose, false, 4
	return c
}

// sameArch reports whether two configurations describe the same network
// (the weights of one load into the other): all but Execute and
// Temperature agree.
func (c ModelConfig) sameArch(o ModelConfig) bool {
	c.Execute, o.Execute, c.Temperature, o.Temperature = 0, 0, 0, 0
	return c == o
}

// pose reports whether the front end is the pose reader.
func (c ModelConfig) pose() bool { return c.Encoder == EncoderPose }

// DefaultModelConfig is the PushT policy.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{FrameH: 96, FrameW: 96, Pool: 2, C1: 32, C2: 32, C3: 32,
		Hidden: 256, Layers: 3, Horizon: 16, ActionDim: 2, ProprioDim: 2,
		TaskDim: 16, SubgoalSize: 12, TimeDim: 32, Scale: 512, AuxPose: true}
}

// ErrConfig: a configuration that cannot work.
var ErrConfig = errors.New("flow: bad configuration")

func (c ModelConfig) validate() error {
	switch {
	case c.Encoder != EncoderConv && c.Encoder != EncoderPose:
		return fmt.Errorf("%w: encoder %q (want %q or %q)", ErrConfig, c.Encoder, EncoderConv, EncoderPose)
	case c.pose() && (c.FrameH != c.FrameW || c.ProprioDim != 2):
		return fmt.Errorf("%w: the pose encoder reads square PushT frames and a 2-d pusher position, not %dx%d and %d", ErrConfig, c.FrameH, c.FrameW, c.ProprioDim)
	case c.FrameH <= 0 || c.FrameW <= 0 || c.Pool <= 0 || c.FrameH%(2*c.Pool) != 0 || c.FrameW%(2*c.Pool) != 0:
		return fmt.Errorf("%w: frame %dx%d with pool %d (the frame must divide by 2*pool)", ErrConfig, c.FrameH, c.FrameW, c.Pool)
	case c.SubgoalSize <= 0 || c.FrameH%c.SubgoalSize != 0 || c.FrameW%c.SubgoalSize != 0:
		return fmt.Errorf("%w: subgoal size %d does not divide the frame %dx%d", ErrConfig, c.SubgoalSize, c.FrameH, c.FrameW)
	case c.C1 <= 0 || c.C2 <= 0 || c.C3 <= 0 || c.Hidden <= 0 || c.Layers <= 0:
		return fmt.Errorf("%w: channels %d/%d/%d, hidden %d x %d", ErrConfig, c.C1, c.C2, c.C3, c.Hidden, c.Layers)
	case c.Relative < 0 || (c.Relative > 0 && c.ActionDim > c.ProprioDim):
		return fmt.Errorf("%w: relative %v with %d-d actions and %d-d proprio (relative actions are offsets from the proprio)", ErrConfig, c.Relative, c.ActionDim, c.ProprioDim)
	case c.Temperature < 0 || c.Temperature > 1:
		return fmt.Errorf("%w: temperature %v, want 0 (as trained) or in (0, 1]", ErrConfig, c.Temperature)
	case c.Execute < 0 || c.Execute > c.Horizon:
		return fmt.Errorf("%w: execute %d of a %d-action chunk", ErrConfig, c.Execute, c.Horizon)
	case c.Horizon <= 0 || c.ActionDim <= 0 || c.ProprioDim <= 0:
		return fmt.Errorf("%w: horizon %d, action dim %d, proprio dim %d", ErrConfig, c.Horizon, c.ActionDim, c.ProprioDim)
	case c.TaskDim <= 0 || c.TimeDim <= 0 || c.TimeDim%2 != 0 || c.Scale <= 0:
		return fmt.Errorf("%w: task dim %d, time dim %d (even), scale %v", ErrConfig, c.TaskDim, c.TimeDim, c.Scale)
	}
	return nil
}

// inH and inW are the encoder's input size.
func (c ModelConfig) inH() int { return c.FrameH / c.Pool }
func (c ModelConfig) inW() int { return c.FrameW / c.Pool }

// chunkDim is the flattened size of an action chunk.
func (c ModelConfig) chunkDim() int { return c.Horizon * c.ActionDim }

// obsDim is the size of the observation feature: keypoints (or the pose
// feature) and proprio.
func (c ModelConfig) obsDim() int {
	if c.pose() {
		return PoseFeatureDim + c.ProprioDim
	}
	return 2*c.C3 + c.ProprioDim
}

// TrainConfig configures training.
type TrainConfig struct {
	Model  ModelConfig `json:"model"`
	Data   string      `json:"data"`
	OutDir string      `json:"out_dir"`
	// Steps of the first stage, which trains the whole network end to end.
	Steps   int     `json:"steps"`
	Batch   int     `json:"batch"`
	LR      float64 `json:"lr"`
	LRFinal float64 `json:"lr_final"` // fraction of LR at the end of each cosine decay
	// HeadSteps of the second stage, which freezes the encoder, computes
	// every frame's features once and trains the flow head alone: convolutions
	// dominate a step's cost on CPU, so the head gets many more updates.
	HeadSteps int     `json:"head_steps"`
	HeadBatch int     `json:"head_batch"`
	HeadLR    float64 `json:"head_lr"`
	// WeightDecay is AdamW's decoupled decay.
	WeightDecay float64 `json:"weight_decay"`
	Seed        uint64  `json:"seed"`
	// CheckpointEvery steps a checkpoint is written; Keep of them are kept
	// (0 keeps all: the zoo uses checkpoints along training).
	CheckpointEvery int `json:"checkpoint_every"`
	Keep            int `json:"keep"`
	// MaxEpisodes caps the training episodes per source (0: all), for
	// small-data zoo members and tests.
	MaxEpisodes int `json:"max_episodes"`
	// Sources, when set, keeps only episodes of these sources
	// ("pusht_cchi_v7_replay", "sim").
	Sources []string `json:"sources,omitempty"`
	Dropout Dropout  `json:"dropout"`
	// AuxWeight weighs the auxiliary pose loss (ModelConfig.AuxPose).
	AuxWeight float64 `json:"aux_weight,omitempty"`
	Threads   int     `json:"threads"`
}

// Dropout is how often training hides context fields (pi0.7's recipe).
type Dropout struct {
	AllMetadata float64 `json:"all_metadata"`
	Field       float64 `json:"field"`
	Task        float64 `json:"task"`
	// SubgoalKeep is the fraction of examples that see a subgoal image.
	SubgoalKeep float64 `json:"subgoal_keep"`
}

// DefaultTrainConfig trains the PushT policy in about half an hour on two
// cores.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Model: DefaultModelConfig(), Data: "data", OutDir: "data/policy/flow",
		Steps: 1500, Batch: 64, LR: 1e-3, LRFinal: 0.05,
		HeadSteps: 20000, HeadBatch: 256, HeadLR: 1e-3, WeightDecay: 1e-4, Seed: 1,
		CheckpointEvery: 500, Keep: 0, Threads: 2, AuxWeight: 1,
		Dropout: Dropout{AllMetadata: 0.15, Field: 0.05, Task: 0.05, SubgoalKeep: 0.25}}
}

func (c TrainConfig) validate() error {
	if err := c.Model.validate(); err != nil {
		return err
	}
	if c.Model.pose() {
		// No encoder to train: the head stage is all there is.
		if c.Steps != 0 || c.HeadSteps <= 0 || c.CheckpointEvery <= 0 || c.OutDir == "" {
			return fmt.Errorf("%w: the pose encoder trains the head alone: steps %d (want 0), head steps %d, checkpoint every %d, out %q", ErrConfig, c.Steps, c.HeadSteps, c.CheckpointEvery, c.OutDir)
		}
	} else if c.Steps <= 0 || c.Batch <= 0 || c.LR <= 0 || c.CheckpointEvery <= 0 || c.OutDir == "" {
		return fmt.Errorf("%w: steps %d, batch %d, lr %v, checkpoint every %d, out %q", ErrConfig, c.Steps, c.Batch, c.LR, c.CheckpointEvery, c.OutDir)
	}
	if c.HeadSteps < 0 || (c.HeadSteps > 0 && (c.HeadBatch <= 0 || c.HeadLR <= 0)) {
		return fmt.Errorf("%w: head steps %d, batch %d, lr %v", ErrConfig, c.HeadSteps, c.HeadBatch, c.HeadLR)
	}
	return nil
}
