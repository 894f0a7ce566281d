package worldmodel

import (
	"context"
	"errors"
	"fmt"

	"dreamrank/foundation/errcode"
)

// Sentinel errors of world models.
var (
	// ErrUnknownBackend: no backend registered under that name.
	ErrUnknownBackend = errors.New("worldmodel: unknown backend")
	// ErrBadInput: shapes or values that do not fit the model's Spec.
	ErrBadInput = errors.New("worldmodel: bad input")
	// ErrClosed: the rollout was closed (or the remote session expired).
	ErrClosed = errors.New("worldmodel: rollout closed")
)

// The sentinels as they travel on the bus, so every program that links
// worldmodel maps them to the same stable codes.
func init() {
	errcode.Register(ErrBadInput, errcode.BadRequest)
	errcode.Register(ErrClosed, errcode.SessionExpired)
	errcode.Register(ErrUnknownBackend, errcode.UnknownModel)
}

// Spec says what a model consumes and produces. Frames are H*W*C bytes,
// RGB, row-major, the layout of episode.Episode frames.
type Spec struct {
	FrameH     int `json:"frame_h"`
	FrameW     int `json:"frame_w"`
	Channels   int `json:"channels"`
	ProprioDim int `json:"proprio_dim"`
	ActionDim  int `json:"action_dim"`
	// ContextLen is how many past observations Start wants per episode
	// (fewer are accepted at an episode's start; the first is repeated).
	ContextLen int `json:"context_len"`
	// ControlHz is the rate of the steps the model predicts.
	ControlHz float64 `json:"control_hz"`
}

// FrameLen is the byte length of one frame.
func (s Spec) FrameLen() int { return s.FrameH * s.FrameW * s.Channels }

// Observation is what a robot sees at one step: a camera frame and its
// proprioception (for PushT the agent position).
type Observation struct {
	Frame   []uint8   `json:"-"`
	Proprio []float32 `json:"proprio"`
}

// Model is an action-conditioned world model. It imagines a batch of
// episodes at once: Start takes each episode's observed context and returns a
// Rollout that predicts what happens under given actions.
type Model interface {
	Spec() Spec
	// Start begins len(contexts) imagined episodes; contexts[i] holds
	// episode i's most recent observations, oldest first (1..ContextLen).
	Start(ctx context.Context, contexts [][]Observation) (Rollout, error)
}

// Rollout is a batch of imagined episodes in progress.
type Rollout interface {
	// Step applies an action chunk to every episode: actions[i][k] is
	// episode i's k-th action (all chunks of one length), and the result
	// [i][k] is the predicted observation after that action.
	Step(ctx context.Context, actions [][][]float32) ([][]Observation, error)
	// Close releases the rollout's resources; Step after Close is ErrClosed.
	Close() error
}

// Optional abilities, checked by type assertion.
type (
	// Describer reports which checkpoint or version a model is, for reports
	// and manifests.
	Describer interface {
		Describe() map[string]string
	}
	// FLOPsCounter reports the floating-point operations of one imagined
	// step of one episode, for throughput benchmarks.
	FLOPsCounter interface {
		FLOPsPerStep() float64
	}
	// Referencer is a model with a second, slower implementation of the
	// same predictions that its fast one is checked against (the built-in
	// model's gorgonia graph), so benchmarks can measure it as a same-run
	// baseline.
	Referencer interface {
		Reference() Model
	}
)

// ValidateContexts checks Start's input against the spec.
func (s Spec) ValidateContexts(contexts [][]Observation) error {
	if len(contexts) == 0 {
		return fmt.Errorf("%w: no episodes", ErrBadInput)
	}
	for i, c := range contexts {
		if len(c) == 0 || (s.ContextLen > 0 && len(c) > s.ContextLen) {
			return fmt.Errorf("%w: episode %d has %d context observations, want 1..%d", ErrBadInput, i, len(c), s.ContextLen)
		}
		for j, o := range c {
			if err := s.validateObservation(o); err != nil {
				return fmt.Errorf("episode %d context %d: %w", i, j, err)
			}
		}
	}
	return nil
}

func (s Spec) validateObservation(o Observation) error {
	if len(o.Frame) != s.FrameLen() {
		return fmt.Errorf("%w: frame of %d bytes, want %d", ErrBadInput, len(o.Frame), s.FrameLen())
	}
	if len(o.Proprio) != s.ProprioDim {
		return fmt.Errorf("%w: proprio of %d values, want %d", ErrBadInput, len(o.Proprio), s.ProprioDim)
	}
	return nil
}

// ValidateActions checks Step's input against the spec and the batch size
// and returns the chunk length.
func (s Spec) ValidateActions(actions [][][]float32, batch int) (int, error) {
	if len(actions) != batch {
		return 0, fmt.Errorf("%w: actions for %d episodes, rollout has %d", ErrBadInput, len(actions), batch)
	}
	chunk := len(actions[0])
	if chunk == 0 {
		return 0, fmt.Errorf("%w: empty action chunk", ErrBadInput)
	}
	for i, a := range actions {
		if len(a) != chunk {
			return 0, fmt.Errorf("%w: episode %d chunk of %d actions, episode 0 has %d", ErrBadInput, i, len(a), chunk)
		}
		for k, v := range a {
			if len(v) != s.ActionDim {
				return 0, fmt.Errorf("%w: episode %d action %d has %d values, want %d", ErrBadInput, i, k, len(v), s.ActionDim)
			}
		}
	}
	return chunk, nil
}
