package judge

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"dreamrank/foundation/pusht"
)

// PushTName is the registry name of the PushT vision judge.
const PushTName = "pusht-vision"

// Options of the PushT judge.
const (
	// OptWorkers: how many episodes it reads at once (default 1: the
	// machine is shared).
	OptWorkers = "workers"
	// OptMargin: call success above coverage 0.95 - margin (default 0).
	OptMargin = "margin"
)

func init() {
	Register(PushTName, func(_ context.Context, opts Options) (Judge, error) {
		var p PushT
		for k, v := range opts {
			switch k {
			case OptWorkers:
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					return nil, fmt.Errorf("%w: option %s=%q: want a positive integer", ErrBadInput, k, v)
				}
				p.Workers = n
			case OptMargin:
				m, err := strconv.ParseFloat(v, 64)
				if err != nil || m < 0 || m >= pusht.SuccessCoverage {
					return nil, fmt.Errorf("%w: option %s=%q: want a number in [0, 0.95)", ErrBadInput, k, v)
				}
				p.Margin = m
			default:
				return nil, fmt.Errorf("%w: unknown option %q (known: %s, %s)", ErrBadInput, k, OptWorkers, OptMargin)
			}
		}
		return p, nil
	})
}

// PushT is the PushT vision judge. For each frame it reads the block pose
// with the simulator's pose reader (pusht.PoseReader: colour unmixing and a
// fitted T silhouette), scores it with the simulator's own coverage
// function, and applies PushT's reward and success rule (coverage above
// 0.95). It never sees simulator state, so it judges imagined frames as it
// judges real ones.
//
// A frame whose block cannot be read (no T found, or the fitted T explains
// the frame poorly, as on blurred imagined frames) keeps the last readable
// pose: the block does not move unseen in one step, and carrying it is
// better than scoring the goal as uncovered, which would hide successes
// behind one bad frame. Frames before the first readable one score 0, so an
// episode the judge cannot see at all never succeeds. Verdict.Unreadable
// counts both kinds.
//
// Each frame after the first readable one is read starting from the last
// readable pose (pusht.PoseReader.Track), which falls back to the full
// search when that fit is poor: about twice as fast over an episode, with
// the same errors (on the 206 human demonstrations: coverage MAE 0.00279,
// p95 0.0106, max 0.0425 either way).
//
// Frames must be square RGB (any size the renderer produces; 96 in the
// dataset). The zero value reads one episode at a time.
type PushT struct {
	// Workers is how many episodes are read concurrently (0 means 1).
	Workers int
	// Margin lowers the coverage above which a frame counts as a success
	// to 0.95 - Margin; rewards are unchanged. Episodes end the moment
	// they cross 0.95, so their success frame lies just above it, where
	// the reader's coverage error (p95 about 0.01) misses about a fifth
	// of them; a margin trades those misses for false calls on frames
	// just below (README, "Judge").
	Margin float64
}

// Judge implements Judge.
func (p PushT) Judge(ctx context.Context, eps []Episode) ([]Verdict, error) {
	for i, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("judge: episode %d: %w", i, err)
		}
		if e.FrameH != e.FrameW || e.Channels != 3 {
			return nil, fmt.Errorf("judge: episode %d: %w: PushT frames are square RGB, got %dx%dx%d", i, ErrBadInput, e.FrameH, e.FrameW, e.Channels)
		}
	}
	out := make([]Verdict, len(eps))
	errs := make([]error, len(eps))
	workers := min(max(p.Workers, 1), max(len(eps), 1))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r pusht.PoseReader
			for i := range next {
				out[i], errs[i] = judgePushT(ctx, &r, eps[i], p.Margin)
			}
		}()
	}
feed:
	for i := range eps {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("judge: %w", err)
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("judge: episode %d: %w", i, err)
		}
	}
	return out, nil
}

// judgePushT reads one episode's frames in order.
func judgePushT(ctx context.Context, r *pusht.PoseReader, e Episode, margin float64) (Verdict, error) {
	cov := make([]float64, len(e.Frames))
	unreadable := 0
	var last pusht.Pose
	seen := false
	for t, f := range e.Frames {
		if t%32 == 0 {
			if err := ctx.Err(); err != nil {
				return Verdict{}, err
			}
		}
		var rd pusht.Reading
		var err error
		if seen {
			rd, err = r.Track(f, e.FrameW, last)
		} else {
			rd, err = r.Read(f, e.FrameW)
		}
		if err != nil {
			return Verdict{}, fmt.Errorf("frame %d: %w: %w", t, ErrBadInput, err)
		}
		if rd.BlockOK {
			last, seen = rd.Block, true
		} else {
			unreadable++
		}
		if seen {
			cov[t] = pusht.Coverage(last)
		}
	}
	v := Score(cov, pusht.SuccessCoverage)
	v.Unreadable = unreadable
	if margin > 0 {
		v.Success, v.SuccessStep = false, -1
		for t, c := range cov {
			if c > pusht.SuccessCoverage-margin {
				v.Success, v.SuccessStep = true, t
				break
			}
		}
	}
	return v, nil
}

// PushTTruth is the true per-step coverage of a PushT episode from its
// ground-truth rows [agent_x, agent_y, block_x, block_y, block_angle], as
// the episode store records them: what Compare measures the judge against.
func PushTTruth(groundTruth [][]float32) ([]float64, error) {
	return truthOf(groundTruth, pusht.Coverage)
}
