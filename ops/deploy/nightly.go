package deploy

import (
	"context"
	"dreamrank/ops/wmfidelity"
	"dreamrank/scenarios"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/nightly"
	"dreamrank/ops/queue"
	"dreamrank/ops/report"
	"dreamrank/ops/schedule"
	"dreamrank/ops/standin"
)

// Nightly configures the nightly re-ranking: when it runs, and in which
// world model.
type Nightly struct {
	// Cron is the schedule (UTC); "" disables it.
	Cron string
	// FirstRun runs a night at start when none ever ran.
	FirstRun bool
	// Config of each night; WorldModel is set from Backend and Checkpoint.
	Config nightly.Config
	// Backend and Checkpoint are the world model the arms are imagined in.
	Backend, Checkpoint string
	// Fidelity is a `wm eval --json` report of that checkpoint, shown
	// instead of evaluating the checkpoint; refused (and said so in the
	// report) unless it records that checkpoint's identity ("": evaluate).
	Fidelity string
	// Data is the directory whose episode store's held-out episodes the
	// checkpoint's fidelity is measured on (the human demonstrations are
	// imported when it has none).
	Data string
}

// Keeper keeps the checkpoint's fidelity in the server's state bucket,
// keyed by the checkpoint's identity; wait computes missing numbers
// before the report instead of in the background.
func (n Nightly) Keeper(res *queue.Resources, wait bool) *wmfidelity.Keeper {
	return &wmfidelity.Keeper{Cache: wmfidelity.KV{KV: res.State}, File: n.Fidelity, Wait: wait,
		Episodes: wmfidelity.HeldOut{Dir: n.Data, Import: scenarios.PushTDataset()}}
}

// RunConfig is the configuration of one night.
func (n Nightly) RunConfig() nightly.Config {
	c := n.Config
	c.WorldModel = job.ModelRef{Backend: n.Backend, Options: map[string]string{"checkpoint": n.Checkpoint}}
	return c
}

// Deps are the night's side effects: jobs through the API on nc, reports
// in the artifact store, the simulator standing in for the fleet, the
// checkpoint's fidelity from fid.
func (n Nightly) Deps(nc *nats.Conn, res *queue.Resources, fid *wmfidelity.Keeper) nightly.Deps {
	describe := func(ctx context.Context, ref job.ModelRef) report.WorldModel {
		return fid.Describe(ctx, ref, standin.Describe(ctx, ref))
	}
	return nightly.Deps{Jobs: jobapi.Client{NC: nc}, Reports: nightly.Store{NC: nc, Objects: res.Artifacts},
		Preview: standin.Simulator{}, Describe: describe}
}

// start runs the scheduler until ctx ends; it returns the scheduler (nil
// when disabled).
func (n Nightly) start(ctx context.Context, nc *nats.Conn, res *queue.Resources) (*schedule.Scheduler, error) {
	if n.Cron == "" {
		return nil, nil
	}
	fid := n.Keeper(res, false)
	fid.Warm(ctx, n.RunConfig().WorldModel) // ready before the first report, which takes minutes
	deps := n.Deps(nc, res, fid)
	run := func(ctx context.Context, r schedule.Run) error {
		_, err := nightly.Run(ctx, n.RunConfig(), deps, nightly.RunID(r.Slot, r.Manual))
		return err
	}
	s, err := schedule.New(schedule.Config{Spec: n.Cron, FirstRun: n.FirstRun, OnRun: func(r schedule.Run, err error) {
		if err != nil {
			slog.Error("nightly run failed", "slot", r.Slot, "err", err)
			return
		}
		slog.Info("nightly run done", "slot", r.Slot, "missed", r.Missed, "seconds", time.Since(r.Started).Seconds())
	}}, nightly.State{KV: res.State}, run)
	if err != nil {
		return nil, err
	}
	go func() { _ = s.Run(ctx) }()
	return s, nil
}
