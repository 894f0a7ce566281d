// Package judge scores episodes from what a camera saw: per-step progress
// (coverage of the goal), reward, success and the step of first success.
// Judges read frames (and optionally proprioception), never simulator state,
// so the same judge scores real and imagined (world-model) episodes alike.
//
// Backends register by name (Register, Open): the built-in PushT vision
// judge ("pusht-vision") reads the block pose from each frame, the overlap
// judge ("overlap") reads any single-coloured object's coverage of its
// target region by colour alone (package overlap; PushL's judge), and the
// remote judge (evaluator/judge/remote) asks a judge served over NATS, such
// as a VLM. Compare measures a judge against simulator ground truth.
package judge

import (
	"context"
	"errors"
	"fmt"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/registry"
)

// Sentinel errors of judges.
var (
	// ErrUnknownJudge: no judge registered (or served) under that name.
	ErrUnknownJudge = errors.New("judge: unknown judge")
	// ErrBadInput: an episode the judge cannot take (no frames, frames of
	// the wrong size, proprio rows that do not match the frames).
	ErrBadInput = errors.New("judge: bad input")
)

// The sentinels as they travel on the bus (see errcode).
func init() {
	errcode.Register(ErrUnknownJudge, errcode.UnknownJudge)
	errcode.Register(ErrBadInput, errcode.BadRequest)
}

// Episode is what a judge sees of one episode: T frames, H*W*C bytes each,
// RGB, row-major (the layout of episode.Episode), and optionally T rows of
// proprioception.
type Episode struct {
	Frames   [][]uint8
	Proprio  [][]float32 // nil, or one row per frame
	FrameH   int
	FrameW   int
	Channels int
	// Instruction is the task text, for judges that read it (VLMs).
	Instruction string
}

// FromEpisode is the judge's view of a stored episode: frames, proprio and
// instruction, never the ground truth.
func FromEpisode(e *episode.Episode) Episode {
	return Episode{
		Frames: e.Frames, Proprio: e.Proprio,
		FrameH: e.FrameH, FrameW: e.FrameW, Channels: e.Channels,
		Instruction: e.Instruction,
	}
}

// Validate checks the shapes.
func (e Episode) Validate() error {
	if len(e.Frames) == 0 {
		return fmt.Errorf("%w: no frames", ErrBadInput)
	}
	if e.FrameH <= 0 || e.FrameW <= 0 || e.Channels <= 0 {
		return fmt.Errorf("%w: frame size %dx%dx%d", ErrBadInput, e.FrameH, e.FrameW, e.Channels)
	}
	n := e.FrameH * e.FrameW * e.Channels
	for t, f := range e.Frames {
		if len(f) != n {
			return fmt.Errorf("%w: frame %d has %d bytes, want %d", ErrBadInput, t, len(f), n)
		}
	}
	if e.Proprio != nil && len(e.Proprio) != len(e.Frames) {
		return fmt.Errorf("%w: %d proprio rows for %d frames", ErrBadInput, len(e.Proprio), len(e.Frames))
	}
	return nil
}

// Verdict is a judge's score of one episode. Step t is frame t.
type Verdict struct {
	// Coverage is the per-step progress in [0,1] (PushT: the fraction of
	// the goal covered by the block).
	Coverage []float64 `json:"coverage"`
	// Reward is the per-step reward in [0,1].
	Reward []float64 `json:"reward"`
	// MaxReward is the episode's score: the best reward of any step.
	MaxReward float64 `json:"max_reward"`
	// Success: some step succeeded.
	Success bool `json:"success"`
	// SuccessStep is the first successful step, -1 when none.
	SuccessStep int `json:"success_step"`
	// Unreadable counts the frames the judge could not read; their scores
	// are carried over from the last readable frame (see each judge).
	Unreadable int `json:"unreadable"`
}

// Judge scores episodes. Judges take batches so that remote and model-based
// judges can amortise their calls; the result has one Verdict per episode,
// in order (none for an empty batch), and an episode's verdict does not
// depend on the rest of its batch. An episode the judge cannot take is
// ErrBadInput; a done ctx ends the call with an error wrapping its error. A
// Judge must be safe for concurrent use. Package judgetest checks these
// promises.
type Judge interface {
	Judge(ctx context.Context, eps []Episode) ([]Verdict, error)
}

// Options configure opening a judge; each backend reads what it needs.
type Options map[string]string

// Opener opens a judge of one backend.
type Opener func(ctx context.Context, opts Options) (Judge, error)

var judges = registry.New[Opener]("judge")

// Register makes a judge available by name; backends call it from init.
// Registering a name twice panics.
func Register(name string, open Opener) { judges.Register(name, open) }

// Open opens a judge by name.
func Open(ctx context.Context, name string, opts Options) (Judge, error) {
	open, ok := judges.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownJudge, name, Names())
	}
	j, err := open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("judge: open %s: %w", name, err)
	}
	return j, nil
}

// Names lists the registered judges.
func Names() []string { return judges.Names() }

// Score turns a per-step coverage series into a Verdict with the given
// success threshold: reward is coverage/threshold clipped to [0,1], success
// when coverage exceeds the threshold (PushT's rule, docs/references.md 1).
func Score(coverage []float64, threshold float64) Verdict {
	v := Verdict{Coverage: coverage, Reward: make([]float64, len(coverage)), SuccessStep: -1}
	for t, c := range coverage {
		r := min(max(c/threshold, 0), 1)
		v.Reward[t] = r
		v.MaxReward = max(v.MaxReward, r)
		if c > threshold && !v.Success {
			v.Success, v.SuccessStep = true, t
		}
	}
	return v
}
