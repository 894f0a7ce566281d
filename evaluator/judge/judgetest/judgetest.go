// Package judgetest checks that a judge.Judge keeps the interface's
// promises, so every backend (built-in, over NATS) is tested alike.
package judgetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/policy/expert"
)

// Tolerance bounds how far a score computed in one batch may be from the
// same score computed in another.
const Tolerance = 1e-6

// Contract runs the interface checks on j with eps, at least two episodes
// it can take: one well-formed verdict per episode in order, verdicts
// independent of the batch, bad input, the empty batch, concurrent use and
// cancellation.
func Contract(t *testing.T, j judge.Judge, eps []judge.Episode) {
	t.Helper()
	if len(eps) < 2 {
		t.Fatalf("the contract needs at least 2 episodes, got %d", len(eps))
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.check(j, eps); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// check is one of the contract's checks; it says what it found wrong.
type check struct {
	name  string
	check func(judge.Judge, []judge.Episode) error
}

// checks are the contract's, in order.
var checks = []check{
	{"verdicts", verdicts},
	{"batch independent", batchIndependent},
	{"bad input", func(j judge.Judge, eps []judge.Episode) error { return badInput(j, eps[0]) }},
	{"empty batch", func(j judge.Judge, _ []judge.Episode) error {
		if vs, err := j.Judge(context.Background(), nil); err != nil || len(vs) != 0 {
			return fmt.Errorf("Judge of no episodes: %d verdicts, %v; want none and no error", len(vs), err)
		}
		return nil
	}},
	{"concurrent", concurrent},
	{"cancelled", func(j judge.Judge, eps []judge.Episode) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := j.Judge(ctx, eps); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Judge with a cancelled ctx: %v, want an error wrapping context.Canceled", err)
		}
		return nil
	}},
}

// run is j.Judge, checked to give one verdict per episode.
func run(j judge.Judge, eps []judge.Episode) ([]judge.Verdict, error) {
	vs, err := j.Judge(context.Background(), eps)
	if err == nil && len(vs) != len(eps) {
		err = fmt.Errorf("%d verdicts for %d episodes", len(vs), len(eps))
	}
	return vs, err
}

func verdicts(j judge.Judge, eps []judge.Episode) error {
	vs, err := run(j, eps)
	if err != nil {
		return err
	}
	var errs []error
	for i, v := range vs {
		if err := WellFormed(v, len(eps[i].Frames)); err != nil {
			errs = append(errs, fmt.Errorf("verdict %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// batchIndependent: the batch reversed gets its verdicts reversed, and an
// episode alone gets its verdict in the batch.
func batchIndependent(j judge.Judge, eps []judge.Episode) error {
	all, err := run(j, eps)
	if err != nil {
		return err
	}
	rev := slices.Clone(eps)
	slices.Reverse(rev)
	got, err := run(j, rev)
	if err != nil {
		return err
	}
	slices.Reverse(got)
	if err := Near(got, all); err != nil {
		return fmt.Errorf("the batch reversed: %w", err)
	}
	one, err := run(j, eps[1:2])
	if err != nil {
		return err
	}
	if err := Near(one, all[1:2]); err != nil {
		return fmt.Errorf("episode 1 alone: %w", err)
	}
	return nil
}

// WellFormed checks a verdict of an episode of steps frames against
// Verdict's documentation.
func WellFormed(v judge.Verdict, steps int) error {
	if len(v.Coverage) != steps || len(v.Reward) != steps {
		return fmt.Errorf("%d coverage and %d reward values for %d steps", len(v.Coverage), len(v.Reward), steps)
	}
	best := 0.0
	for t := range steps {
		if c, r := v.Coverage[t], v.Reward[t]; !(c >= 0 && c <= 1 && r >= 0 && r <= 1) {
			return fmt.Errorf("step %d: coverage %v, reward %v; want both in [0,1]", t, c, r)
		}
		best = max(best, v.Reward[t])
	}
	switch {
	case math.Abs(v.MaxReward-best) > Tolerance:
		return fmt.Errorf("max reward %v, but the best step's reward is %v", v.MaxReward, best)
	case v.Success != (v.SuccessStep >= 0) || v.SuccessStep < -1 || v.SuccessStep >= steps:
		return fmt.Errorf("success %v at step %d of %d", v.Success, v.SuccessStep, steps)
	case v.Unreadable < 0 || v.Unreadable > steps:
		return fmt.Errorf("%d unreadable frames of %d", v.Unreadable, steps)
	}
	return nil
}

// badInput: each episode the judge cannot take, beside a good one, is
// judge.ErrBadInput.
func badInput(j judge.Judge, good judge.Episode) error {
	noFrames := good
	noFrames.Frames = nil
	shortFrame := good
	shortFrame.Frames = slices.Clone(good.Frames)
	shortFrame.Frames[0] = shortFrame.Frames[0][1:]
	proprio := good
	proprio.Proprio = make([][]float32, len(good.Frames)+1)
	var errs []error
	for _, tt := range []struct {
		name string
		ep   judge.Episode
	}{{"no frames", noFrames}, {"a frame of the wrong size", shortFrame}, {"proprio rows off the frames", proprio}} {
		if _, err := j.Judge(context.Background(), []judge.Episode{good, tt.ep}); !errors.Is(err, judge.ErrBadInput) {
			errs = append(errs, fmt.Errorf("%s: err %v, want judge.ErrBadInput", tt.name, err))
		}
	}
	return errors.Join(errs...)
}

// concurrent judges eps from several goroutines at once; each gets the
// verdicts of a call alone.
func concurrent(j judge.Judge, eps []judge.Episode) error {
	want, err := run(j, eps)
	if err != nil {
		return err
	}
	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vs, err := run(j, eps)
			if err == nil {
				err = Near(vs, want)
			}
			errs[g] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("judging from %d goroutines at once: %w", n, err)
	}
	return nil
}

// Near reports how got differs from want beyond Tolerance in a score.
func Near(got, want []judge.Verdict) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d verdicts, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.Success != w.Success || g.SuccessStep != w.SuccessStep || g.Unreadable != w.Unreadable || math.Abs(g.MaxReward-w.MaxReward) > Tolerance {
			return fmt.Errorf("verdict %d: %+v, want %+v", i, g, w)
		}
		if !near(g.Coverage, w.Coverage) || !near(g.Reward, w.Reward) {
			return fmt.Errorf("verdict %d: per-step scores differ", i)
		}
	}
	return nil
}

func near(a, b []float64) bool {
	return slices.EqualFunc(a, b, func(x, y float64) bool { return math.Abs(x-y) <= Tolerance })
}

// Episodes are two short simulated PushT episodes (seed 100000, 12 steps
// each), the second with an instruction: the episodes the remote judge
// backends' tests send over their wires.
func Episodes(tb testing.TB) []judge.Episode {
	tb.Helper()
	eps, _, err := judge.Simulated(context.Background(), 100000, 2, []expert.Options{{MaxSteps: 12}})
	if err != nil {
		tb.Fatal(err)
	}
	eps[1].Instruction = "push the T"
	return eps
}
