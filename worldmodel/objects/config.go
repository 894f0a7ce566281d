package objects

import (
	"errors"
	"fmt"
)

// Sentinel errors of the package.
var (
	// ErrNoData: no usable training episodes or windows.
	ErrNoData = errors.New("objects: no training data")
	// ErrConfig: a configuration that cannot be trained or run.
	ErrConfig = errors.New("objects: bad configuration")
)

// frameSize is the side of the PushT camera frame this backend reads and
// renders.
const frameSize = 96

// ModelConfig is the dynamics network's architecture.
type ModelConfig struct {
	// ContextLen is how many past states the model uses (the agent's
	// velocity is read from its last positions).
	ContextLen int `json:"context_len"`
	// Hidden is the width and Layers the number of hidden layers of the
	// block MLP.
	Hidden int `json:"hidden"`
	Layers int `json:"layers"`
	// ContactMargin (table px): when the pusher's path over a step stays
	// farther than AgentRadius+ContactMargin from the T, the block does not
	// move (it has no velocity of its own: space damping 0), whatever the
	// network says. It keeps an untouched block exactly still over
	// hundreds of steps.
	ContactMargin float64 `json:"contact_margin"`
}

// DefaultModelConfig is the committed checkpoint's architecture.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{ContextLen: 3, Hidden: 128, Layers: 3, ContactMargin: 4}
}

func (c ModelConfig) validate() error {
	if c.ContextLen < 3 || c.Hidden < 1 || c.Layers < 1 || c.ContactMargin < 0 {
		return fmt.Errorf("%w: model %+v (context_len >= 3, hidden and layers >= 1, contact_margin >= 0)", ErrConfig, c)
	}
	return nil
}

// TrainConfig configures Train.
type TrainConfig struct {
	Model  ModelConfig `json:"model"`
	OutDir string      `json:"-"`
	// Steps optimizer steps of Batch windows, each unrolled over Unroll
	// predicted steps (the model's own predictions fed back).
	Steps  int     `json:"steps"`
	Batch  int     `json:"batch"`
	Unroll int     `json:"unroll"`
	LR     float64 `json:"lr"`
	// MovingFrac is the share of windows drawn from those where the block
	// moves (most steps of an episode leave it still).
	MovingFrac float64 `json:"moving_frac"`
	Seed       uint64  `json:"seed"`
	// MaxEpisodes caps training episodes per source (0: all).
	MaxEpisodes     int `json:"max_episodes"`
	CheckpointEvery int `json:"checkpoint_every"`
	// Threads read frames and episodes in parallel.
	Threads int `json:"-"`
	// Episodes, when not nil, are the ids of the training episodes (held-out
	// ones among them are still left out; MaxEpisodes still applies). A
	// fine-tune sets it to its new and replayed episodes.
	Episodes []string `json:"-"`
	// LRFrom is the step the learning-rate schedule starts from: the cosine
	// decay spans steps LRFrom..Steps. A fine-tune resumed from its parent's
	// step N sets it to N, so its own steps get the whole schedule.
	LRFrom int `json:"lr_from,omitempty"`
}

// DefaultTrainConfig is the configuration of the committed checkpoint.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Model: DefaultModelConfig(), OutDir: "data/wm/pusht-objects",
		Steps: 3000, Batch: 128, Unroll: 16, LR: 1e-3, MovingFrac: 0.8,
		Seed: 1, CheckpointEvery: 500, Threads: 2,
	}
}

func (c TrainConfig) validate() error {
	if err := c.Model.validate(); err != nil {
		return err
	}
	if c.Steps < 1 || c.Batch < 1 || c.Unroll < 1 || c.LR <= 0 || c.MovingFrac < 0 || c.MovingFrac > 1 || c.OutDir == "" ||
		c.LRFrom < 0 || c.LRFrom >= c.Steps {
		return fmt.Errorf("%w: training %+v", ErrConfig, c)
	}
	return nil
}
