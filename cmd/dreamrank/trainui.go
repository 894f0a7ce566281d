package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"dreamrank/foundation/progress"
)

// trainUI shows a dynamics-model training run (wm train-objects,
// train-slots): one-off messages and checkpoints as log lines, a progress
// bar over the optimizer steps, and a summary.
type trainUI struct {
	// lazy starts the bar at the first step, so its rate and ETA are the
	// optimizer's, not those of the data preparation before it.
	lazy   bool
	bar    progress.Func
	finish func()
	last   trainStep
}

// trainStep is what the summary reports of the last step.
type trainStep struct {
	step, steps int
	loss, rate  float64
	elapsed     time.Duration
}

func newTrainUI(lazy bool) *trainUI {
	u := &trainUI{lazy: lazy, finish: func() {}}
	if !lazy {
		u.bar, u.finish = progress.Bar(os.Stderr, "training")
	}
	return u
}

// message logs a one-off event.
func (u *trainUI) message(msg string) { slog.Info(msg) }

// stepDone shows an optimizer step; checkpoint is set on steps that wrote one.
func (u *trainUI) stepDone(s trainStep, checkpoint string) {
	if checkpoint != "" {
		slog.Info("checkpoint", "path", checkpoint, "step", s.step, "loss", s.loss)
	}
	u.last = s
	if u.bar == nil {
		u.bar, u.finish = progress.Bar(os.Stderr, "training")
	}
	u.bar(s.step, s.steps)
}

// done ends the bar and prints the summary, or idle when the run took no
// optimizer step.
func (u *trainUI) done(path string, err error, idle string) error {
	u.finish()
	if err != nil {
		return err
	}
	if u.last.rate == 0 {
		fmt.Printf("%s\ncheckpoint %s\n", idle, path)
		return nil
	}
	fmt.Printf("trained to step %d, loss %.5f, %.1f windows/s, %v\ncheckpoint %s\n", u.last.step, u.last.loss, u.last.rate, u.last.elapsed.Round(time.Second), path)
	return nil
}
