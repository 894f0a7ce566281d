package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/nightly"
	"dreamrank/ops/queue"
	"dreamrank/ops/report"
	"dreamrank/ops/schedule"
	"dreamrank/ops/standin"
	"dreamrank/ops/web"
	"dreamrank/ops/wmfidelity"
	"dreamrank/scenarios"
	"dreamrank/worldmodel/objects"
)

// nightlyFlags configure the nightly re-ranking.
type nightlyFlags struct {
	cron       string
	firstRun   bool
	cfg        nightly.Config
	backend    string
	checkpoint string
	fidelity   string
	data       string // episode store of the fidelity evaluation (serve's --data)
}

func (f *nightlyFlags) register(cmd *cobra.Command, withSchedule bool) {
	fl := cmd.Flags()
	if withSchedule {
		fl.StringVar(&f.cron, "nightly", schedule.DefaultSpec, "cron expression of the nightly re-ranking (UTC; \"\" disables)")
		fl.BoolVar(&f.firstRun, "nightly-first-run", true, "when no night ever ran, run one at start (a first report within minutes)")
	}
	fl.IntVar(&f.cfg.Episodes, "nightly-episodes", 10, "imagined episodes per zoo arm each night")
	fl.IntVar(&f.cfg.RealBudget, "nightly-real", 10, "of those, real episodes per arm played by the fleet (the simulator when no robots), paired, for the agreement section (-1: none)")
	fl.IntVar(&f.cfg.Previews, "nightly-previews", 4, "imagined-beside-real previews per report, failures first")
	fl.IntVar(&f.cfg.Safety, "nightly-safety", 12, "imagined keep-out-zone episodes per arm for the safety section (-1: none)")
	fl.IntVar(&f.cfg.SafetyReal, "nightly-safety-real", 6, "of those, real episodes per arm")
	fl.IntVar(&f.cfg.SafetyHorizon, "nightly-safety-horizon", 120, "steps per keep-out-zone episode")
	fl.StringVar(&f.backend, "nightly-backend", objects.Name, "world-model backend the arms are imagined in")
	fl.StringVar(&f.checkpoint, "nightly-checkpoint", defaultObjectsCheckpoint, "its checkpoint")
	fl.StringVar(&f.fidelity, "nightly-fidelity", "", "`FILE` written by wm eval --json, shown instead of evaluating the checkpoint; refused (and said so in the report) unless it records that checkpoint's identity")
	if !withSchedule {
		fl.StringVar(&f.data, "data", "data", "data directory whose held-out episodes the checkpoint's fidelity is measured on (the human demonstrations are imported when it has none)")
	}
}

// keeper keeps the checkpoint's fidelity in the server's state bucket,
// keyed by the checkpoint's identity, measured on f.data's held-out
// episodes; wait computes missing numbers before the report instead of
// in the background.
func (f *nightlyFlags) keeper(res *queue.Resources, wait bool) *wmfidelity.Keeper {
	return &wmfidelity.Keeper{Cache: wmfidelity.KV{KV: res.State}, File: f.fidelity, Wait: wait,
		Episodes: wmfidelity.HeldOut{Dir: f.data, Import: scenarios.PushTDataset()}}
}

func (f *nightlyFlags) config() nightly.Config {
	c := f.cfg
	c.WorldModel = job.ModelRef{Backend: f.backend, Options: map[string]string{"checkpoint": f.checkpoint}}
	return c
}

// deps are the night's side effects: jobs through the API on nc, reports
// in the artifact store, the simulator standing in for the fleet, the
// checkpoint's fidelity from fid.
func (f *nightlyFlags) deps(nc *nats.Conn, res *queue.Resources, fid *wmfidelity.Keeper) nightly.Deps {
	describe := func(ctx context.Context, ref job.ModelRef) report.WorldModel {
		return fid.Describe(ctx, ref, standin.Describe(ctx, ref))
	}
	return nightly.Deps{Jobs: jobapi.Client{NC: nc}, Reports: nightly.Store{NC: nc, Objects: res.Artifacts},
		Preview: standin.Simulator{}, Describe: describe}
}

// startNightly runs the scheduler until ctx ends; it returns the
// scheduler (nil when disabled).
func (f *nightlyFlags) start(ctx context.Context, nc *nats.Conn, res *queue.Resources) (*schedule.Scheduler, error) {
	if f.cron == "" {
		return nil, nil
	}
	fid := f.keeper(res, false)
	fid.Warm(ctx, f.config().WorldModel) // ready before the first report, which takes minutes
	deps := f.deps(nc, res, fid)
	run := func(ctx context.Context, r schedule.Run) error {
		_, err := nightly.Run(ctx, f.config(), deps, nightly.RunID(r.Slot, r.Manual))
		return err
	}
	s, err := schedule.New(schedule.Config{Spec: f.cron, FirstRun: f.firstRun, OnRun: func(r schedule.Run, err error) {
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

// serveHTTP serves the UI on addr, and the server's metrics on /metrics
// (Prometheus text format), until ctx ends.
func serveHTTP(ctx context.Context, addr string, opts web.Options, metrics func(context.Context, io.Writer) error) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.New(opts))
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if err := metrics(r.Context(), w); err != nil {
			slog.Warn("metrics", "err", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			slog.Error("http", "err", err)
		}
	}()
	return nil
}

func reportNightlyCmd() *cobra.Command {
	var (
		bf  busFlags
		nf  nightlyFlags
		now bool
	)
	cmd := &cobra.Command{
		Use:   "nightly --now",
		Short: "Run the nightly re-ranking now against a running server: every zoo arm imagined, paired real episodes, the report stored and announced",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !now {
				return fmt.Errorf("the server runs nights on its schedule (dreamrank serve --nightly); --now runs one here and now")
			}
			ctx := cmd.Context()
			nc, res, err := bf.queue(ctx, "dreamrank report nightly")
			if err != nil {
				return err
			}
			defer nc.Close()
			r, err := nightly.Run(ctx, nf.config(), nf.deps(nc, res, nf.keeper(res, true)), nightly.RunID(time.Now(), true))
			if err != nil {
				return err
			}
			md, err := report.Markdown(r)
			if err != nil {
				return err
			}
			fmt.Print(string(md))
			return nil
		},
	}
	bf.registerClient(cmd)
	nf.register(cmd, false)
	cmd.Flags().BoolVar(&now, "now", false, "run now")
	return cmd
}
