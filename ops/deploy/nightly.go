package deploy

import (
	"context"
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
	// Fidelity is a `wm eval --json` report of that checkpoint, shown in
	// the report's world-model section ("": none).
	Fidelity string
}

// RunConfig is the configuration of one night.
func (n Nightly) RunConfig() nightly.Config {
	c := n.Config
	c.WorldModel = job.ModelRef{Backend: n.Backend, Options: map[string]string{"checkpoint": n.Checkpoint}}
	return c
}

// Deps are the night's side effects: jobs through the API on nc, reports
// in the artifact store, the simulator standing in for the fleet.
func (n Nightly) Deps(nc *nats.Conn, res *queue.Resources) nightly.Deps {
	describe := func(ctx context.Context, ref job.ModelRef) report.WorldModel {
		wm := standin.Describe(ctx, ref)
		if n.Fidelity == "" {
			return wm
		}
		fid, err := nightly.ReadFidelity(n.Fidelity)
		if err != nil {
			slog.Warn("nightly: no fidelity numbers", "err", err)
			return wm
		}
		wm.Fidelity, wm.Checkpoint["fidelity_from"] = fid, n.Fidelity
		return wm
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
	deps := n.Deps(nc, res)
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
