package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/ops/loadgen"
	"dreamrank/ops/nightly"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/web"
	"dreamrank/ops/worker"
	"dreamrank/policy/zoo"
)

// workerFlags configure local task workers.
type workerFlags struct {
	n           int
	maxAttempts int
}

func (f *workerFlags) register(cmd *cobra.Command, def int) {
	cmd.Flags().IntVar(&f.n, "workers", def, "task workers to run in this process (each runs one task at a time)")
	cmd.Flags().IntVar(&f.maxAttempts, "max-attempts", 3, "tries per task before it is recorded as failed")
}

// runWorkers runs f.n imagined-rollout workers on nc until ctx ends.
func (f *workerFlags) run(ctx context.Context, nc *nats.Conn, res *queue.Resources, name string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range f.n {
		r := worker.NewImagined()
		w := worker.New(res, r, worker.Config{Name: fmt.Sprintf("%s-%d", name, i), MaxAttempts: f.maxAttempts})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			_ = w.Run(ctx)
		}()
	}
	return &wg
}

func serveCmd() *cobra.Command {
	var (
		bf     busFlags
		wf     workerFlags
		nf     nightlyFlags
		rf     robotFlags
		httpA  string
		data   string
		listen string
		zooF   string
		cfg    server.Config
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the evaluation-job server: embedded NATS with JetStream (or --nats), the job API, the aggregator and local workers",
		Long: `Starts the job server. By default it embeds a nats-server with JetStream,
its files under --data/jetstream, listening on --listen; with --nats it joins
an existing NATS deployment instead (credentials by --creds, --token or
--user/--password; on the embedded server those flags turn authentication on).
Jobs are submitted with 'dreamrank submit'; more workers join from anywhere
with 'dreamrank worker --nats URL'. Unfinished jobs resume after a restart.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rf.defaults(cmd, data)
			var robotLogins int
			if bf.cfg.URL == "" {
				host, port, err := splitListen(listen)
				if err != nil {
					return err
				}
				users, noAuth, err := rf.embeddedAuth(&bf, host)
				if err != nil {
					return err
				}
				robotLogins = len(users)
				e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Host: host, Port: port,
					StoreDir: filepath.Join(data, "jetstream"), User: bf.cfg.User, Password: bf.cfg.Password, Token: bf.cfg.Token,
					Users: users, NoAuthUser: noAuth})
				if err != nil {
					return err
				}
				defer e.Shutdown()
				bf.cfg.URL = e.URL()
			}
			bf.cfg.Name = "dreamrank serve"
			nc, err := bus.Connect(ctx, bf.cfg)
			if err != nil {
				return err
			}
			defer nc.Close()
			z, err := openZoo(zooF)
			if err != nil {
				return err
			}
			cfg.Catalog = worker.Catalog(z)
			real, fleetView, stopFleet, err := rf.start(ctx, nc, bf.cfg.URL, robotLogins)
			if err != nil {
				return err
			}
			defer stopFleet()
			cfg.Real = real
			nf.cfg.Zoo, nf.data = z, data
			srv, err := server.Start(ctx, nc, cfg)
			if err != nil {
				return err
			}
			wctx, stopWorkers := context.WithCancel(ctx)
			wg := wf.run(wctx, nc, srv.Resources(), "local")
			sched, err := nf.start(ctx, nc, srv.Resources())
			if err != nil {
				stopWorkers()
				return err
			}
			if httpA != "" {
				opts := web.Options{Reports: nightly.Store{Objects: srv.Resources().Artifacts}, Jobs: srv.WebJobs(), Fleet: fleetView, Artifacts: srv.WebArtifacts()}
				if sched != nil {
					opts.NextRun = sched.Next
				}
				if err := serveHTTP(ctx, httpA, opts, srv.WriteMetrics); err != nil {
					stopWorkers()
					return err
				}
				fmt.Printf("web UI on http://%s/ (reports, jobs, fleet; metrics on /metrics)\n", httpA)
			}
			fmt.Printf("dreamrank serving jobs on %s with %d local workers; Ctrl-C stops.\n", bf.cfg.URL, wf.n)
			fmt.Printf("Submit the example: bin/dreamrank submit examples/ranking.yaml --watch --nats %s\n", bf.cfg.URL)
			<-ctx.Done()
			slog.Info("stopping: running tasks go back to the queue")
			stopWorkers()
			wg.Wait()
			return srv.Stop()
		},
	}
	bf.register(cmd)
	wf.register(cmd, 2)
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory (the embedded server's JetStream files; the episode store whose held-out episodes the nightly checkpoint's fidelity is measured on)")
	f.StringVar(&listen, "listen", "127.0.0.1:4222", "host:port of the embedded NATS server")
	nf.register(cmd, true)
	rf.register(cmd)
	f.StringVar(&httpA, "http", "127.0.0.1:8080", "address of the web UI (\"\" disables)")
	f.StringVar(&zooF, "zoo", "", "policy zoo file jobs may name arms of (default: the built-in zoo)")
	f.IntVar(&cfg.MaxActive, "max-active", 1000, "unfinished jobs allowed at once (more: quota_exceeded)")
	f.IntVar(&cfg.Queue.Replicas, "replicas", 1, "JetStream replicas of streams and buckets (3 on a cluster)")
	f.DurationVar(&cfg.Queue.AckWait, "ack-wait", 30*time.Second, "a task without a worker heartbeat this long is redelivered")
	return cmd
}

func workerCmd() *cobra.Command {
	var (
		bf busFlags
		wf workerFlags
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run task workers against a job server's NATS (imagined rollouts in the named world models)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, res, err := bf.queue(ctx, "dreamrank worker")
			if err != nil {
				return err
			}
			defer nc.Close()
			host, _ := os.Hostname()
			wg := wf.run(ctx, nc, res, host)
			fmt.Printf("%d workers pulling tasks from %s; Ctrl-C stops.\n", wf.n, bf.cfg.URL)
			wg.Wait()
			return nil
		},
	}
	bf.registerClient(cmd)
	wf.register(cmd, 1)
	return cmd
}

// openZoo reads a zoo file, or the built-in zoo.
func openZoo(path string) (*zoo.Zoo, error) {
	if path == "" {
		return zoo.Default(), nil
	}
	return zoo.Load(path)
}

func benchDispatchCmd() *cobra.Command {
	var cfg loadgen.Config
	cmd := &cobra.Command{
		Use:   "dispatch",
		Short: "Job-server overhead: tasks that do no work through embedded NATS, the work queue and workers (JSON)",
		Long: `Runs one job of --tasks tasks that do no work through the real path
(embedded NATS + JetStream on loopback, job API, work queue, --workers
workers, aggregation) and --jobs one-task jobs timed end to end, next to a
plain NATS request-reply and a JetStream publish measured in the same run.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := loadgen.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return printJSON(rep)
		},
	}
	cmd.Flags().IntVar(&cfg.Tasks, "tasks", 2000, "tasks in the throughput job")
	cmd.Flags().IntVar(&cfg.Workers, "workers", 2, "workers")
	cmd.Flags().IntVar(&cfg.Jobs, "jobs", 30, "one-task jobs timed end to end")
	return cmd
}
