package objects

import (
	"encoding/json"
	"fmt"
	"strconv"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/nn"
)

// Checkpoint format: a dreamrank/foundation/checkpoint directory whose config is
// savedConfig and whose tensors are the parameters in newParams order.
const (
	CheckpointFormat  = "dreamrank-objects-wm"
	CheckpointVersion = 1
	checkpointPrefix  = "objects"
)

// savedConfig is checkpoint.json's config.
type savedConfig struct {
	Model ModelConfig `json:"model"`
	Train TrainConfig `json:"train"`
	// AgentRMSPx is the agent head's one-step RMS error on the training data.
	AgentRMSPx float64 `json:"agent_rms_px"`
	// UnreadableFrames of TrainFrames: frames whose block the reader could
	// not read (training skips windows holding one).
	UnreadableFrames int `json:"unreadable_frames"`
	TrainFrames      int `json:"train_frames"`
}

// Load opens a checkpoint directory (or a training directory's latest).
func Load(path string) (*Model, error) {
	c, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	cfg, ps, err := fromCheckpoint(c)
	if err != nil {
		return nil, err
	}
	return newModel(cfg.Model, ps, map[string]string{
		"checkpoint": c.Dir, "step": strconv.Itoa(c.Step), "data_hash": c.DataHash,
	}), nil
}

func fromCheckpoint(c *checkpoint.Checkpoint) (savedConfig, *nn.Params, error) {
	var cfg savedConfig
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("objects: %w: %s: config: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	if err := cfg.Model.validate(); err != nil {
		return cfg, nil, fmt.Errorf("objects: %w: %s: %v", checkpoint.ErrCorrupt, c.Dir, err)
	}
	ps := newParams(cfg.Model, 0)
	if err := ps.Load(c); err != nil {
		return cfg, nil, fmt.Errorf("objects: %w", err)
	}
	return cfg, ps, nil
}
