package latent

import (
	"fmt"
	"runtime"
)

// ModelConfig is the architecture of a model; it is stored in every
// checkpoint.
type ModelConfig struct {
	FrameH     int `json:"frame_h"`
	FrameW     int `json:"frame_w"`
	ContextLen int `json:"context_len"`
	// Channels at half and quarter resolution, residual blocks at quarter
	// resolution, channels of the full-resolution decoder layer.
	C1     int `json:"c1"`
	C2     int `json:"c2"`
	Blocks int `json:"blocks"`
	CD     int `json:"cd"`
	// Table is the side of the square table in proprio/action units (PushT:
	// 512); AgentRadius is the pusher's radius in the same units.
	Table       float64 `json:"table"`
	AgentRadius float64 `json:"agent_radius"`
	// GateRadius (table units): the predicted change of the frame is kept
	// only within this distance of the agent (before or after the step);
	// everything farther is copied exactly. 0 disables the gate.
	GateRadius float64 `json:"gate_radius"`
	// Snap (inference only; 0 disables it, as in older checkpoints)
	// sharpens the block in predicted frames: on pixels the network changed
	// by more than a few grey levels, the block's palette share f is pushed
	// away from one half (f' = 0.5 + Snap*(f-0.5), clipped to 0..1) and the
	// pixel redrawn as that mix of block fill and its own background, so a
	// blurred block does not stay blurred when fed back.
	Snap float64 `json:"snap,omitempty"`
}

// DefaultModelConfig is the PushT model.
func DefaultModelConfig() ModelConfig {
	return ModelConfig{FrameH: 96, FrameW: 96, ContextLen: 3, C1: 16, C2: 32, Blocks: 3, CD: 12, Table: 512, AgentRadius: 15, GateRadius: 190, Snap: 4}
}

func (c ModelConfig) validate() error {
	if c.FrameH <= 0 || c.FrameW <= 0 || c.FrameH%4 != 0 || c.FrameW%4 != 0 {
		return fmt.Errorf("latent: frame %dx%d: sides must be positive multiples of 4", c.FrameH, c.FrameW)
	}
	if c.C1 <= 0 || c.C2 <= 0 || c.CD <= 0 || c.Blocks < 0 || c.ContextLen < 1 || c.Table <= 0 || c.AgentRadius <= 0 || c.GateRadius < 0 || c.Snap < 0 {
		return fmt.Errorf("latent: bad model config %+v", c)
	}
	return nil
}

// TrainConfig is how Train trains; it is stored in every checkpoint.
type TrainConfig struct {
	Model ModelConfig `json:"model"`
	// OutDir receives the checkpoints (and is where Train resumes from).
	OutDir string `json:"out_dir"`
	Seed   uint64 `json:"seed"`
	// Steps is the number of optimizer steps of the first stage, and in all
	// without FineTune (a resumed run stops at the same total).
	Steps int `json:"steps"`
	Batch int `json:"batch"`
	// Unroll is the number of predicted steps per example, each fed the
	// previous prediction; UnrollStart < Unroll ramps it up over the first
	// half of training (curriculum).
	Unroll      int `json:"unroll"`
	UnrollStart int `json:"unroll_start"`
	// Crop trains on Crop x Crop windows around the agent (0: whole frames).
	Crop int `json:"crop"`
	// LR is Adam's learning rate, decayed by a cosine to LR*LRFinal.
	LR      float64 `json:"lr"`
	LRFinal float64 `json:"lr_final"`
	// ChangeWeight is the extra loss weight of pixels that change between
	// consecutive true frames (near them), so small moving parts matter.
	ChangeWeight float64 `json:"change_weight"`
	// BlockWeight is the extra loss weight of pixels showing the block (its
	// palette share at least one half) in the true frame before or after
	// the step, dilated by one pixel, so a smeared block costs more than
	// the few changing pixels alone say. 0 (older checkpoints) disables it.
	BlockWeight float64 `json:"block_weight,omitempty"`
	// FineTune, when set, continues training after Steps for FineTune.Steps
	// more steps with its own unroll and block weight (a second stage; see
	// FineTuneConfig). Older checkpoints have none.
	FineTune *FineTuneConfig `json:"fine_tune,omitempty"`
	// HumanFraction of examples come from human demonstrations, the rest
	// from simulated episodes.
	HumanFraction float64 `json:"human_fraction"`
	// MaxEpisodes limits the training episodes per source (0: all).
	MaxEpisodes int `json:"max_episodes"`
	// CheckpointEvery optimizer steps (and at the end).
	CheckpointEvery int `json:"checkpoint_every"`
	// KeepCheckpoints is how many checkpoints stay in OutDir (0: all).
	KeepCheckpoints int `json:"keep_checkpoints"`
	// Threads for data preparation (default: GOMAXPROCS).
	Threads int `json:"threads"`
}

// FineTuneConfig is a second training stage of Steps more optimizer steps
// after TrainConfig.Steps: every example unrolls Unroll steps (no
// curriculum), the block's pixels weigh BlockWeight more, and the learning
// rate follows the cosine of a run of both stages' steps (so it jumps back
// up a little where the stage starts). It trains as resuming the finished
// first stage with these settings (and Steps raised) does.
type FineTuneConfig struct {
	Steps       int     `json:"steps"`
	Unroll      int     `json:"unroll"`
	BlockWeight float64 `json:"block_weight"`
}

// totalSteps is the optimizer steps of both stages.
func (c TrainConfig) totalSteps() int {
	if c.FineTune != nil {
		return c.Steps + c.FineTune.Steps
	}
	return c.Steps
}

// at is the configuration in force at optimizer step s: the fine-tuning
// stage's from Steps on.
func (c TrainConfig) at(s int) TrainConfig {
	if c.FineTune == nil || s < c.Steps {
		return c
	}
	ft := *c.FineTune
	c.FineTune = nil
	c.Steps, c.Unroll, c.UnrollStart, c.BlockWeight = c.Steps+ft.Steps, ft.Unroll, ft.Unroll, ft.BlockWeight
	return c
}

// DefaultTrainConfig is the configuration of the committed PushT
// checkpoint: 1200 steps unrolling up to 6 (about 27 minutes on 2 cores),
// then 500 fine-tuning steps unrolling 10 with extra weight on the block's
// pixels (about 20 minutes more), which keeps the pushed block much
// sharper over the model's own predictions.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{
		Model:           DefaultModelConfig(),
		OutDir:          "data/wm/pusht-wm",
		Seed:            1,
		Steps:           1200,
		Batch:           8,
		Unroll:          6,
		UnrollStart:     2,
		Crop:            56,
		LR:              2e-3,
		LRFinal:         0.05,
		ChangeWeight:    20,
		FineTune:        &FineTuneConfig{Steps: 500, Unroll: 10, BlockWeight: 8},
		HumanFraction:   0.5,
		MaxEpisodes:     400,
		CheckpointEvery: 250,
		KeepCheckpoints: 3,
	}
}

func (c *TrainConfig) validate() error {
	if err := c.Model.validate(); err != nil {
		return err
	}
	if c.OutDir == "" {
		return fmt.Errorf("latent: train config: no output directory")
	}
	if c.Steps <= 0 || c.Batch <= 0 || c.Unroll <= 0 {
		return fmt.Errorf("latent: train config: steps, batch and unroll must be positive")
	}
	if c.UnrollStart <= 0 || c.UnrollStart > c.Unroll {
		c.UnrollStart = c.Unroll
	}
	if ft := c.FineTune; ft != nil && (ft.Steps <= 0 || ft.Unroll <= 0 || ft.BlockWeight < 0) {
		return fmt.Errorf("latent: train config: fine-tuning needs positive steps and unroll, got %+v", *ft)
	}
	if c.BlockWeight < 0 {
		return fmt.Errorf("latent: train config: negative block weight")
	}
	if c.Crop != 0 && (c.Crop%4 != 0 || c.Crop > c.Model.FrameH || c.Crop > c.Model.FrameW) {
		return fmt.Errorf("latent: train config: crop %d must be a multiple of 4 within the frame", c.Crop)
	}
	if c.LR <= 0 {
		return fmt.Errorf("latent: train config: learning rate must be positive")
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = c.Steps
	}
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	return nil
}
