package slots

import (
	"encoding/json"
	"fmt"
	"strconv"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/nn"
)

// Checkpoint format: a dreamrank/foundation/checkpoint directory whose
// config is savedConfig and whose tensors are newParams' in order: the
// learned scene, the fitted heads and the passive objects' networks.
const (
	CheckpointFormat  = "dreamrank-slots-wm"
	CheckpointVersion = 1
	checkpointPrefix  = "slots"
)

// savedConfig is checkpoint.json's config.
type savedConfig struct {
	Model  ModelConfig `json:"model"`
	Train  TrainConfig `json:"train"`
	Layout layout      `json:"layout"`
	// Tracking is how the training frames read: frames whose objects all
	// fitted within the scene's Refit RMS, of all.
	TrackedFrames int `json:"tracked_frames"`
	TrainFrames   int `json:"train_frames"`
}

// Load opens a checkpoint directory (or a training directory's latest).
func Load(path string) (*Model, error) {
	c, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	cfg, ps, err := fromCheckpoint(c)
	if err != nil {
		return nil, err
	}
	return newModel(cfg, ps, map[string]string{
		"checkpoint": c.Dir, "step": strconv.Itoa(c.Step), "data_hash": c.DataHash,
	}), nil
}

func fromCheckpoint(c *checkpoint.Checkpoint) (savedConfig, *nn.Params, error) {
	var cfg savedConfig
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("slots: %w: %s: config: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if err := cfg.Model.validate(); err != nil {
		return cfg, nil, fmt.Errorf("slots: %w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	ps := newParams(cfg.Model, cfg.Layout, 0)
	if err := ps.Load(c); err != nil {
		return cfg, nil, fmt.Errorf("slots: %w", err)
	}
	return cfg, ps, nil
}
