package policy

import (
	"context"
	"errors"
	"fmt"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/registry"
)

// Sentinel errors of policies.
var (
	// ErrBadInput: observations or contexts that do not fit the policy's Spec.
	ErrBadInput = errors.New("policy: bad input")
	// ErrUnknownPolicy: no policy backend registered under that name.
	ErrUnknownPolicy = errors.New("policy: unknown policy")
)

// The sentinels travel on the bus with these codes (errcode), so remote
// callers can test errors.Is against them.
func init() {
	errcode.Register(ErrBadInput, errcode.BadRequest)
	errcode.Register(ErrUnknownPolicy, errcode.UnknownPolicy)
}

// MaxSubgoalImages is how many subgoal images a Context may carry.
const MaxSubgoalImages = 3

// Speed labels of episode metadata (the empty string means unknown).
const (
	SpeedSlow   = "slow"
	SpeedNormal = "normal"
	SpeedFast   = "fast"
)

// Observation is what the robot sees at one step. Image is the main camera,
// H*W*C bytes, RGB, row-major (the layout of episode frames); Frames holds
// further cameras by name, each of the same size. Proprio is the robot's
// proprioception (for PushT the agent position).
type Observation struct {
	Image   []uint8            `json:"-"`
	Frames  map[string][]uint8 `json:"-"`
	Proprio []float32          `json:"proprio"`
}

// Metadata describes the episode a policy should imitate. Zero values mean
// unknown (the policy drops that field, as in training with context dropout).
type Metadata struct {
	// Speed is an episode-length bin: SpeedSlow, SpeedNormal, SpeedFast or "".
	Speed string `json:"speed,omitempty"`
	// Quality is 1 (worst) to 5 (best); 0 is unknown.
	Quality int `json:"quality,omitempty"`
	// Mistake says whether the episode contains a mistake; nil is unknown.
	Mistake *bool `json:"mistake,omitempty"`
}

// Context steers a policy. Every field is optional.
type Context struct {
	Task     string   `json:"task,omitempty"`
	Subtask  string   `json:"subtask,omitempty"`
	Metadata Metadata `json:"metadata"`
	// SubgoalImages are up to MaxSubgoalImages frames of the observation's
	// size showing what the scene should look like next.
	SubgoalImages [][]uint8 `json:"-"`
}

// Chunk is an action chunk: Actions[k] is the k-th action (ActionDim values),
// to be executed in order from the observation it was computed from.
type Chunk struct {
	Actions [][]float32 `json:"actions"`
}

// Spec says what a policy consumes and produces. A zero field is unknown
// (a remote policy that did not say) and is not checked.
type Spec struct {
	FrameH     int `json:"frame_h"`
	FrameW     int `json:"frame_w"`
	Channels   int `json:"channels"`
	ProprioDim int `json:"proprio_dim"`
	ActionDim  int `json:"action_dim"`
	// ChunkLen is the number of actions in each returned chunk.
	ChunkLen int `json:"chunk_len"`
	// ControlHz is the rate at which the actions are meant to be executed.
	ControlHz float64 `json:"control_hz,omitempty"`
	// Execute is how many actions of each chunk the policy means to run
	// before it is asked again (a policy trained closed-loop at that rate
	// does worse at another); 0: no preference (half the chunk).
	Execute int `json:"execute,omitempty"`
}

// Executed is how many actions of a chunk of chunkLen to run before asking
// again: want when it is positive, else the spec's Execute, else half the
// chunk; at least one and at most the chunk.
func (s Spec) Executed(want, chunkLen int) int {
	n := want
	if n <= 0 {
		n = s.Execute
	}
	if n <= 0 {
		n = chunkLen / 2
	}
	return max(1, min(n, chunkLen))
}

// FrameLen is the byte length of one frame, 0 if the size is unknown.
func (s Spec) FrameLen() int { return s.FrameH * s.FrameW * s.Channels }

// ValidateInput checks Act's input against the spec. steer may be nil (no
// steering) or must have one context per observation.
func (s Spec) ValidateInput(obs []Observation, steer []Context) error {
	if steer != nil && len(steer) != len(obs) {
		return fmt.Errorf("%w: %d observations but %d contexts", ErrBadInput, len(obs), len(steer))
	}
	fl := s.FrameLen()
	for i, o := range obs {
		if len(o.Image) == 0 {
			return fmt.Errorf("%w: observation %d has no image", ErrBadInput, i)
		}
		if fl > 0 && len(o.Image) != fl {
			return fmt.Errorf("%w: observation %d image has %d bytes, want %d", ErrBadInput, i, len(o.Image), fl)
		}
		for name, f := range o.Frames {
			if fl > 0 && len(f) != fl {
				return fmt.Errorf("%w: observation %d frame %q has %d bytes, want %d", ErrBadInput, i, name, len(f), fl)
			}
		}
		if s.ProprioDim > 0 && len(o.Proprio) != s.ProprioDim {
			return fmt.Errorf("%w: observation %d proprio has %d values, want %d", ErrBadInput, i, len(o.Proprio), s.ProprioDim)
		}
	}
	for i, c := range steer {
		if err := s.validateContext(c); err != nil {
			return fmt.Errorf("context %d: %w", i, err)
		}
	}
	return nil
}

func (s Spec) validateContext(c Context) error {
	if c.Metadata.Quality < 0 || c.Metadata.Quality > 5 {
		return fmt.Errorf("%w: quality %d outside 0..5", ErrBadInput, c.Metadata.Quality)
	}
	if len(c.SubgoalImages) > MaxSubgoalImages {
		return fmt.Errorf("%w: %d subgoal images, at most %d", ErrBadInput, len(c.SubgoalImages), MaxSubgoalImages)
	}
	fl := s.FrameLen()
	for k, g := range c.SubgoalImages {
		if len(g) == 0 || (fl > 0 && len(g) != fl) {
			return fmt.Errorf("%w: subgoal image %d has %d bytes, want %d", ErrBadInput, k, len(g), fl)
		}
	}
	return nil
}

// ValidateChunks checks a policy's output against the spec and the batch size.
func (s Spec) ValidateChunks(chunks []Chunk, batch int) error {
	if len(chunks) != batch {
		return fmt.Errorf("%w: %d chunks for %d observations", ErrBadInput, len(chunks), batch)
	}
	for i, c := range chunks {
		if len(c.Actions) == 0 || (s.ChunkLen > 0 && len(c.Actions) != s.ChunkLen) {
			return fmt.Errorf("%w: chunk %d has %d actions, want %d", ErrBadInput, i, len(c.Actions), s.ChunkLen)
		}
		want := s.ActionDim
		if want == 0 {
			want = len(c.Actions[0])
		}
		for k, a := range c.Actions {
			if len(a) != want || len(a) == 0 {
				return fmt.Errorf("%w: chunk %d action %d has %d values, want %d", ErrBadInput, i, k, len(a), want)
			}
		}
	}
	return nil
}

// Policy is an image-based, steerable robot policy.
type Policy interface {
	Spec() Spec
	// Act returns one action chunk per observation, fitting Spec (see
	// ValidateChunks); an empty batch gives none. steer is nil (no
	// steering) or holds one context per observation; input off the Spec
	// is ErrBadInput. Calls are independent: a policy keeps no state
	// between them, so the same call gives the same chunks, and chunk i
	// depends only on observation i and its context, not on the rest of
	// the batch (up to floating-point rounding), so callers may split and
	// merge batches. A done ctx ends the call with an error wrapping its
	// error. Package policytest checks these promises.
	Act(ctx context.Context, obs []Observation, steer []Context) ([]Chunk, error)
}

// Describer reports which policy, checkpoint or version this is, for
// reports and manifests.
type Describer interface {
	Describe() map[string]string
}

// Options configure opening a policy backend; each reads what it needs.
type Options map[string]string

// Opener opens a policy of one backend.
type Opener func(ctx context.Context, opts Options) (Policy, error)

var backends = registry.New[Opener]("policy")

// Register makes a policy backend available by name; backends call it from
// init. Registering a name twice, an empty name or a nil Opener panics.
func Register(name string, open Opener) {
	if open == nil {
		panic("policy: Register with a nil opener")
	}
	backends.Register(name, open)
}

// Open opens a policy by backend name.
func Open(ctx context.Context, name string, opts Options) (Policy, error) {
	open, ok := backends.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %v)", ErrUnknownPolicy, name, Names())
	}
	return open(ctx, opts)
}

// Names lists the registered backend names, sorted.
func Names() []string { return backends.Names() }
