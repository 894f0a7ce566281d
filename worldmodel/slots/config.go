package slots

import "fmt"

// ModelConfig is the learned dynamics' architecture.
type ModelConfig struct {
	// ContextLen is how many past observations the model uses (the robot's
	// velocity is read from its last proprioceptions).
	ContextLen int `json:"context_len"`
	// Hidden is the width and Layers the number of hidden layers of each
	// passive object's MLP.
	Hidden int `json:"hidden"`
	Layers int `json:"layers"`
	// ContactMargin (frame pixels): when no effector's path over a step
	// comes within its radius plus this margin of a passive object's
	// footprint, the object does not move, whatever the network says, so
	// an untouched object stays exactly still over any horizon.
	ContactMargin float64 `json:"contact_margin"`
	// EffectorRMS (frame pixels): an object whose position the
	// proprioception explains linearly within this RMS is an effector (the
	// robot's own body); the others are passive.
	EffectorRMS float64 `json:"effector_rms"`
	// Keypoints per passive object compared by the training loss.
	Keypoints int `json:"keypoints"`
	// ContactDepth adds, per effector path point, its distance from the
	// object's footprint less the effector's radius (negative: pressed
	// in) to the network's input. A network reading only positions must
	// learn the object's outline to the sub-pixel from data; the learned
	// sprite knows it exactly, and a push's effect hangs on that depth.
	// Checkpoints from before it have it off.
	ContactDepth bool `json:"contact_depth,omitempty"`
}

// perEffector is how many network inputs each effector gives: its path's
// four points in the object's frame, and their contact depths.
func (c ModelConfig) perEffector() int {
	if c.ContactDepth {
		return 12
	}
	return 8
}

// DefaultModelConfig is the committed checkpoint's architecture.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{ContextLen: 3, Hidden: 128, Layers: 3, ContactMargin: 0.75, EffectorRMS: 0.75, Keypoints: 6, ContactDepth: true}
}

func (c ModelConfig) validate() error {
	if c.ContextLen < 3 || c.Hidden < 1 || c.Layers < 1 || c.ContactMargin < 0 || c.EffectorRMS <= 0 || c.Keypoints < 1 {
		return fmt.Errorf("%w: model %+v (context_len >= 3, hidden, layers, keypoints >= 1, contact_margin >= 0, effector_rms > 0)", ErrConfig, c)
	}
	return nil
}

// TrainConfig configures Train.
type TrainConfig struct {
	Scene  SceneConfig `json:"scene"`
	Model  ModelConfig `json:"model"`
	OutDir string      `json:"-"`
	// Steps optimizer steps of Batch windows, each unrolled over Unroll
	// predicted steps (the model's own predictions fed back).
	Steps  int     `json:"steps"`
	Batch  int     `json:"batch"`
	Unroll int     `json:"unroll"`
	LR     float64 `json:"lr"`
	// MovingFrac is the share of windows drawn from those where a passive
	// object moves (most steps of an episode leave them still).
	MovingFrac float64 `json:"moving_frac"`
	Seed       uint64  `json:"seed"`
	// MaxEpisodes caps training episodes per source (0: all).
	MaxEpisodes     int `json:"max_episodes"`
	CheckpointEvery int `json:"checkpoint_every"`
	// Threads read episodes and frames in parallel.
	Threads int `json:"-"`
}

// DefaultTrainConfig is the configuration of the committed checkpoint.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Scene: DefaultSceneConfig(), Model: DefaultModelConfig(), OutDir: "data/wm/slots",
		Steps: 3000, Batch: 128, Unroll: 16, LR: 1e-3, MovingFrac: 0.8,
		Seed: 1, CheckpointEvery: 250, Threads: 2,
	}
}

func (c TrainConfig) validate() error {
	if err := c.Scene.validate(); err != nil {
		return err
	}
	if err := c.Model.validate(); err != nil {
		return err
	}
	if c.Steps < 1 || c.Batch < 1 || c.Unroll < 1 || c.LR <= 0 || c.MovingFrac < 0 || c.MovingFrac > 1 || c.OutDir == "" || c.CheckpointEvery < 1 {
		return fmt.Errorf("%w: training %+v", ErrConfig, c)
	}
	return nil
}
