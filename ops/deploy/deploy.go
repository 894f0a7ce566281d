// Package deploy is the composition root of a dreamrank deployment: it
// assembles NATS (embedded, with its logins, or an existing deployment),
// the job server, local workers, the fleet coordinator with its simulated
// robots, the nightly scheduler and the web UI from one Config, which
// `dreamrank serve` fills from its flags. The decisions that tie the
// pieces together (who may log in, who plays real episodes) live here, so
// that they are tested without the binary.
package deploy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"

	"dreamrank/foundation/bus"
	"dreamrank/ops/access"
	_ "dreamrank/ops/backends" // the workers open backends by name
	"dreamrank/ops/nightly"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/web"
	"dreamrank/ops/worker"
	"dreamrank/policy/zoo"
)

// Config is a deployment. Its fields follow `dreamrank serve`'s flags, and
// its errors name them.
type Config struct {
	// Bus reaches an existing NATS deployment when Bus.URL is set; without
	// it an embedded server with JetStream runs, and Bus's credentials
	// turn its authentication on.
	Bus bus.Config
	// Data holds the embedded server's JetStream files (Data/jetstream).
	Data string
	// Listen is the embedded server's host:port. Beyond loopback every
	// client must log in (Bus's --user or --token, or Users' logins).
	Listen string
	// Users is the directory of user logins (NAME.user.json from `dreamrank
	// creds add`), each allowed only its role's subjects (ops/access).
	Users string
	// TLS, when set, makes the embedded server's clients speak TLS.
	TLS *bus.ServerTLS
	// MaxStore caps the embedded server's JetStream storage in bytes (0:
	// nats-server's default, 75% of the free disk), which the streams,
	// buckets and the object store then share (queue.LimitsFor) unless
	// Server.Queue.Limits says otherwise.
	MaxStore int64
	// HTTP is the address of the web UI and /metrics; "" disables it.
	HTTP string
	// Zoo is the policy zoo jobs may name arms of; nil: zoo.Default().
	Zoo *zoo.Zoo
	// Server configures the job server; Catalog and Real are filled in.
	Server server.Config
	// Workers run tasks in this process.
	Workers Workers
	// Nightly schedules the nightly re-ranking.
	Nightly Nightly
	// Fleet configures the coordinator.
	Fleet Fleet
	// SimRobots simulated PushT robots run in this process, each joining
	// the fleet with its own nkey login (created under Fleet.Robots).
	SimRobots int
	// Real says who plays jobs' real episodes: RealFleet, RealSimulator or
	// RealAuto (the fleet when robots have logins).
	Real string
}

// Deployment is a started deployment; Stop ends it.
type Deployment struct {
	// URL is the NATS URL clients use.
	URL string
	// HTTP is the web UI's address as configured ("" when disabled).
	HTTP string
	// Workers is how many local workers run.
	Workers int
	// Users is how many user logins the embedded server loaded.
	Users int

	srv     *server.Server
	cancel  context.CancelFunc
	workers func()   // stops the local workers and waits for them
	release []func() // the rest, in the order of their start
}

// Run starts the deployment, calls ready (when not nil) once it serves,
// and stops it when ctx ends.
func Run(ctx context.Context, cfg Config, ready func(*Deployment)) error {
	d, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(d)
	}
	<-ctx.Done()
	slog.Info("stopping: running tasks go back to the queue")
	return d.Stop()
}

// Start assembles and starts the deployment; it runs until Stop or until
// ctx ends.
func Start(ctx context.Context, cfg Config) (_ *Deployment, err error) {
	if _, err := useFleet(cfg.Real, 0); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	d := &Deployment{HTTP: cfg.HTTP, Workers: cfg.Workers.N, cancel: cancel, workers: func() {}}
	defer func() {
		if err != nil {
			_ = d.Stop()
		}
	}()
	var robotLogins int
	if cfg.Bus.URL == "" {
		host, port, err := SplitListen(cfg.Listen)
		if err != nil {
			return nil, err
		}
		lg, err := embeddedLogins(&cfg.Bus, cfg.Fleet, cfg.Users, simIDs(cfg.SimRobots), host)
		if err != nil {
			return nil, err
		}
		robotLogins, d.Users = len(lg.users)-lg.userCount, lg.userCount
		e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Host: host, Port: port,
			StoreDir: filepath.Join(cfg.Data, "jetstream"), User: cfg.Bus.User, Password: cfg.Bus.Password, Token: cfg.Bus.Token,
			Users: lg.users, NoAuthUser: lg.noAuth, TLS: cfg.TLS, MaxStore: cfg.MaxStore})
		if err != nil {
			return nil, err
		}
		d.release = append(d.release, e.Shutdown)
		if !Loopback(host) && cfg.TLS == nil {
			slog.Warn("the bus is served beyond loopback without TLS: jobs, results and passwords cross the network in clear; give --tls-cert and --tls-key")
		}
		if cfg.Server.Queue.Limits == (queue.Limits{}) {
			cfg.Server.Queue.Limits = queue.LimitsFor(e.Server.JetStreamConfig().MaxStore)
		}
		if q := access.Quotas(lg.quotas); len(q) > 0 && cfg.Server.Quotas == nil {
			cfg.Server.Quotas = q
		}
		// The serving process's own clients (job server, workers, robots,
		// UI) connect in memory with the admin login: no TLS to verify,
		// no login on the network.
		cfg.Bus = bus.Config{URL: e.URL(), InProcess: e.Server, User: cfg.Bus.User, Password: cfg.Bus.Password, Token: cfg.Bus.Token}
	}
	d.URL = cfg.Bus.URL
	cfg.Bus.Name = "dreamrank serve"
	nc, err := bus.Connect(ctx, cfg.Bus)
	if err != nil {
		return nil, err
	}
	d.release = append(d.release, nc.Close)
	z := cfg.Zoo
	if z == nil {
		z = zoo.Default()
	}
	cfg.Server.Catalog = worker.Catalog(z)
	real, fleetView, stopFleet, err := startRobots(ctx, nc, cfg, robotLogins)
	if err != nil {
		return nil, err
	}
	d.release = append(d.release, stopFleet)
	cfg.Server.Real = real
	cfg.Nightly.Config.Zoo = z
	if d.srv, err = server.Start(ctx, nc, cfg.Server); err != nil {
		return nil, err
	}
	wctx, stopWorkers := context.WithCancel(ctx)
	wg := cfg.Workers.Run(wctx, d.srv.Resources(), "local")
	d.workers = func() { stopWorkers(); wg.Wait() }
	sched, err := cfg.Nightly.start(ctx, nc, d.srv.Resources())
	if err != nil {
		return nil, err
	}
	if cfg.HTTP != "" {
		opts := web.Options{Reports: nightly.Store{Objects: d.srv.Resources().Artifacts}, Jobs: d.srv.WebJobs(), Fleet: fleetView, Artifacts: d.srv.WebArtifacts()}
		if sched != nil {
			opts.NextRun = sched.Next
		}
		if err := serveHTTP(ctx, cfg.HTTP, opts, d.srv.WriteMetrics); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Stop ends the deployment: the scheduler, the UI and the workers (their
// running tasks go back to the queue), then the job server, the fleet and
// NATS.
func (d *Deployment) Stop() error {
	d.cancel()
	d.workers()
	var err error
	if d.srv != nil {
		err = d.srv.Stop()
	}
	for i := len(d.release) - 1; i >= 0; i-- {
		d.release[i]()
	}
	return err
}

// SplitListen splits a --listen host:port.
func SplitListen(listen string) (string, int, error) {
	host, portS, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %q: want host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return "", 0, fmt.Errorf("--listen %q: want host:port: %w", listen, err)
	}
	return host, port, nil
}
