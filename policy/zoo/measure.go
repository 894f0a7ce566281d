package zoo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"

	"dreamrank/foundation/progress"
	"dreamrank/policy/trial"
)

// Measurement is one run of `dreamrank policy zoo-eval`: arms of a zoo
// measured in the simulator, their rows merged into the true-rates table
// (the merge rules are Run.Merge's).
type Measurement struct {
	Zoo *Zoo
	// Run says which arms are measured, how, and by which command.
	Run Run
	// Trial configures the simulator runs; each arm's Steer and Progress
	// are set here.
	Trial trial.Config
	// Out and Markdown are the JSON and Markdown tables written.
	Out, Markdown string
	// Progress, when set, makes the progress report of the i-th of n arms
	// measured and a function that ends it.
	Progress func(i, n int, arm string) (progress.Func, func())
}

// Run is what a measurement run adds to the table.
type Run struct {
	// Arms measured; empty: every arm of the zoo.
	Arms []string
	// Seeds and Execute (actions executed per chunk, 0: the policy's preference)
	// are how the arms are run.
	Seeds   []int64
	Execute int
	// Command is the command line of the run.
	Command string
}

// Merge returns the table a run over arms (partial when it measures fewer
// arms than the zoo has) starts from, given the table it writes over (prev,
// zero when none): a full run starts afresh, a partial one keeps prev's
// rows, as adding an arm needs only its own evaluation. Either way the
// table takes the run's seeds and execution; the command stays prev's after
// a partial run, since the full run that made the table reproduces every
// row.
func (r Run) Merge(prev Rates, arms, zooArms int) Rates {
	full := arms == zooArms
	var t Rates
	if !full {
		t = prev
	}
	t.Seeds = r.Seeds
	t.Execute = "the policy's preferred number of actions (the first half when it has none)"
	if r.Execute > 0 {
		t.Execute = "the first " + strconv.Itoa(r.Execute) + " actions"
	}
	if t.Command == "" || full {
		t.Command = r.Command
	}
	return t
}

// Measure runs the measurement and returns the table. It writes the table
// after every arm, so a long run that is interrupted keeps what it
// measured.
func (m Measurement) Measure(ctx context.Context) (Rates, error) {
	arms := m.Run.Arms
	if len(arms) == 0 {
		arms = m.Zoo.Names()
	}
	for _, a := range arms {
		if _, err := m.Zoo.Arm(a); err != nil {
			return Rates{}, err
		}
	}
	var prev Rates
	if len(arms) < len(m.Zoo.Arms) {
		var err error
		if prev, err = ReadRates(m.Out); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Rates{}, err
		}
	}
	table := m.Run.Merge(prev, len(arms), len(m.Zoo.Arms))
	cfg := m.Trial
	for i, name := range arms {
		p, arm, err := m.Zoo.Open(ctx, name)
		if err != nil {
			return table, err
		}
		cfg.Steer = arm.Steer()
		finish := func() {}
		if m.Progress != nil {
			cfg.Progress, finish = m.Progress(i, len(arms), name)
		}
		s, err := trial.Run(ctx, p, cfg)
		finish()
		if c, ok := p.(io.Closer); ok {
			_ = c.Close()
		}
		if err != nil {
			return table, fmt.Errorf("arm %s: %w", name, err)
		}
		r := Rate{Arm: name, Backend: arm.Backend, Episodes: s.Episodes, Successes: s.Successes, SuccessRate: s.SuccessRate,
			SuccessCI: s.SuccessCI, MeanMaxReward: s.MeanMaxReward, MeanSteps: s.MeanSteps, WallSeconds: s.WallSeconds}
		slog.Info("arm measured", "arm", name, "success_rate", r.SuccessRate, "mean_steps", r.MeanSteps, "seconds", int(r.WallSeconds))
		table.Put(r)
		table.SortLike(m.Zoo)
		if err := table.Write(m.Out, m.Markdown); err != nil {
			return table, err
		}
	}
	return table, nil
}
