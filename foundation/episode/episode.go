package episode

import (
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
)

// FormatVersion is written into every meta.json and steps file.
const FormatVersion = 1

// Outcome is how the episode ended, when known.
type Outcome struct {
	Success       bool    `json:"success"`
	MaxReward     float64 `json:"max_reward"`
	FinalCoverage float64 `json:"final_coverage"`
}

// Meta describes an episode. Zero values mean "unknown" throughout: an
// empty string, Quality 0, a nil Seed, Mistake or Outcome.
type Meta struct {
	Format int    `json:"format"`
	ID     string `json:"id"` // canonical lowercase UUID; also the directory name

	Source      string `json:"source"` // "pusht_cchi_v7_replay", "sim", "fleet", ...
	RobotID     string `json:"robot_id,omitempty"`
	Policy      string `json:"policy,omitempty"`
	Scenario    string `json:"scenario,omitempty"`
	Seed        *int64 `json:"seed,omitempty"`
	Instruction string `json:"instruction,omitempty"` // task text

	// Steering metadata (pi0.7 style): speed is an episode-length bin,
	// quality a 1-5 score, mistake whether the operator erred.
	Speed   string `json:"speed,omitempty"`
	Quality int    `json:"quality,omitempty"`
	Mistake *bool  `json:"mistake,omitempty"`

	Outcome *Outcome          `json:"outcome,omitempty"`
	Created time.Time         `json:"created"`
	Extra   map[string]string `json:"extra,omitempty"`
	// Provenance says how a fleet episode was asked for and recorded
	// (RobotID, Policy, Scenario and Seed say who, with what, where); nil
	// for other sources.
	Provenance *Provenance `json:"provenance,omitempty"`

	// Shapes of the step arrays. Put fills Steps and the dims from the
	// arrays; the frame size must be given unless frames are square RGB
	// (then it is inferred). Readers can size buffers from List without
	// opening the steps file.
	Steps          int  `json:"steps"`
	FrameH         int  `json:"frame_h"`
	FrameW         int  `json:"frame_w"`
	Channels       int  `json:"channels"`
	ProprioDim     int  `json:"proprio_dim"`
	ActionDim      int  `json:"action_dim"`
	GroundTruthDim int  `json:"ground_truth_dim,omitempty"`
	HasRewards     bool `json:"has_rewards,omitempty"`
}

// Provenance records where a fleet episode came from. The fleet
// coordinator writes it from its own records of the assignment, not from
// what the robot claims, except the robot's clock times.
type Provenance struct {
	// Assignment is the fleet assignment id (also the episode id, so a
	// retried upload lands on the same episode); Request the id of the
	// episode request it answered.
	Assignment string `json:"assignment"`
	Request    string `json:"request,omitempty"`
	Embodiment string `json:"embodiment,omitempty"`
	// PolicyBackend and PolicyOptions say how the policy was opened (a zoo
	// arm's backend and options), or PolicyEndpoint where it was served
	// (openpi).
	PolicyBackend  string            `json:"policy_backend,omitempty"`
	PolicyOptions  map[string]string `json:"policy_options,omitempty"`
	PolicyEndpoint string            `json:"policy_endpoint,omitempty"`
	// Started and Finished are the robot's clock; Received the
	// coordinator's when the log was stored.
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Received time.Time `json:"received"`
}

// Episode is T steps of a robot's life. Every per-step slice has length T.
// Frames are H*W*C bytes, RGB, row-major (FrameH, FrameW and Channels in
// Meta say the size). GroundTruth is the simulator's state (for PushT
// [agent_x, agent_y, block_x, block_y, angle]); it is for judging only and
// must never be shown to a model. GroundTruth and Rewards may be nil.
type Episode struct {
	Meta
	Frames      [][]uint8
	Proprio     [][]float32
	Actions     [][]float32
	Timestamps  []float64 // seconds since the episode started
	GroundTruth [][]float32
	Rewards     []float32
}

// NewID returns a fresh random episode id.
func NewID() string { return uuid.NewString() }

// validID accepts only canonical lowercase UUIDs: ids become directory
// names, so nothing else (no "..", no slashes) may get through.
func validID(id string) error {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return fmt.Errorf("%w: id %q is not a canonical UUID", ErrInvalid, id)
	}
	return nil
}

// fillShapes sets Steps and the dimension fields from the arrays. A frame
// size left at zero is taken to be square RGB (PushT's 96x96x3) when the
// first frame's length allows it.
func (e *Episode) fillShapes() {
	e.Steps = len(e.Frames)
	if e.FrameH == 0 && e.FrameW == 0 && e.Channels == 0 && len(e.Frames) > 0 {
		n := len(e.Frames[0]) / 3
		side := int(math.Sqrt(float64(n)))
		for side*side < n {
			side++
		}
		if n > 0 && side*side == n && 3*n == len(e.Frames[0]) {
			e.FrameH, e.FrameW, e.Channels = side, side, 3
		}
	}
	dim := func(rows [][]float32) int {
		if len(rows) == 0 {
			return 0
		}
		return len(rows[0])
	}
	e.ProprioDim = dim(e.Proprio)
	e.ActionDim = dim(e.Actions)
	e.GroundTruthDim = dim(e.GroundTruth)
	e.HasRewards = e.Rewards != nil
}

// Validate checks that the episode is complete and consistent: a valid id,
// T >= 1 steps in every array, rows of one size, frames of
// FrameH*FrameW*Channels bytes, finite increasing timestamps and finite
// numbers. It expects the shape fields to be filled (Put does that).
func (e *Episode) Validate() error {
	if err := validID(e.ID); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: episode %s: "+format, append([]any{ErrInvalid, e.ID}, args...)...)
	}
	t := len(e.Frames)
	if t == 0 {
		return bad("no steps")
	}
	if e.Steps != t {
		return bad("Steps = %d but %d frames", e.Steps, t)
	}
	if e.FrameH <= 0 || e.FrameW <= 0 || e.Channels <= 0 || e.FrameH > 1<<14 || e.FrameW > 1<<14 || e.Channels > 4 {
		return bad("frame size %dx%dx%d", e.FrameH, e.FrameW, e.Channels)
	}
	fs := e.FrameH * e.FrameW * e.Channels
	for i, f := range e.Frames {
		if len(f) != fs {
			return bad("frame %d has %d bytes, want %d", i, len(f), fs)
		}
	}
	checkRows := func(name string, rows [][]float32, dim int, optional bool) error {
		if rows == nil && optional {
			if dim != 0 {
				return bad("%s missing but dim %d", name, dim)
			}
			return nil
		}
		if len(rows) != t {
			return bad("%s has %d steps, want %d", name, len(rows), t)
		}
		if dim <= 0 {
			return bad("%s has dimension %d", name, dim)
		}
		for i, r := range rows {
			if len(r) != dim {
				return bad("%s step %d has %d values, want %d", name, i, len(r), dim)
			}
			for _, x := range r {
				if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
					return bad("%s step %d is not finite", name, i)
				}
			}
		}
		return nil
	}
	if err := checkRows("proprio", e.Proprio, e.ProprioDim, false); err != nil {
		return err
	}
	if err := checkRows("actions", e.Actions, e.ActionDim, false); err != nil {
		return err
	}
	if err := checkRows("ground truth", e.GroundTruth, e.GroundTruthDim, true); err != nil {
		return err
	}
	if len(e.Timestamps) != t {
		return bad("%d timestamps, want %d", len(e.Timestamps), t)
	}
	for i, ts := range e.Timestamps {
		if math.IsNaN(ts) || math.IsInf(ts, 0) || (i > 0 && ts <= e.Timestamps[i-1]) {
			return bad("timestamp %d (%v) is not finite and increasing", i, ts)
		}
	}
	if e.HasRewards != (e.Rewards != nil) {
		return bad("HasRewards = %v but rewards present = %v", e.HasRewards, e.Rewards != nil)
	}
	if e.Rewards != nil && len(e.Rewards) != t {
		return bad("%d rewards, want %d", len(e.Rewards), t)
	}
	if e.Quality < 0 || e.Quality > 5 {
		return bad("quality %d outside 0..5", e.Quality)
	}
	return nil
}
