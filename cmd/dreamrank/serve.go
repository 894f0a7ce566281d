package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/ops/access"
	"dreamrank/ops/deploy"
)

func serveCmd() *cobra.Command {
	var (
		bf       busFlags
		tf       serverTLSFlags
		zooF     string
		cfg      deploy.Config
		maxStore byteSize
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the evaluation-job server: embedded NATS with JetStream (or --nats), the job API, the aggregator and local workers",
		Long: `Starts the job server. By default it embeds a nats-server with JetStream,
its files under --data/jetstream, listening on --listen; with --nats it joins
an existing NATS deployment instead (credentials by --creds, --token or
--user/--password; on the embedded server those flags turn authentication on).
Jobs are submitted with 'dreamrank submit'; more workers join from anywhere
with 'dreamrank worker --nats URL'. Unfinished jobs resume after a restart.

On loopback (the default --listen) local clients need no login. Beyond
loopback every client must log in: --user/--password (an admin login) or
--token, or user logins with roles in --users ('dreamrank creds add'); else
serve refuses to start. --tls-cert/--tls-key (from 'dreamrank certs init')
encrypt the bus; docs/server.md has a two-machine deployment.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The fleet's directories follow --data unless given.
			if !cmd.Flags().Changed("robots") {
				cfg.Fleet.Robots = filepath.Join(cfg.Data, "robots")
			}
			if !cmd.Flags().Changed("fleet-episodes") {
				cfg.Fleet.Episodes = cfg.Data // the store's root, as episode.Open(data) everywhere else
			}
			if !cmd.Flags().Changed("users") {
				cfg.Users = filepath.Join(cfg.Data, "users")
			}
			cfg.TLS, cfg.MaxStore = tf.get(), int64(maxStore)
			z, err := openZoo(zooF)
			if err != nil {
				return err
			}
			cfg.Bus, cfg.Zoo, cfg.Nightly.Data = bf.cfg, z, cfg.Data
			return deploy.Run(cmd.Context(), cfg, func(d *deploy.Deployment) {
				if d.HTTP != "" {
					fmt.Printf("web UI on http://%s/ (reports, jobs, fleet; metrics on /metrics)\n", d.HTTP)
				}
				fmt.Printf("dreamrank serving jobs on %s with %d local workers; Ctrl-C stops.\n", d.URL, d.Workers)
				how := ""
				if cfg.TLS != nil {
					how += " --tls-ca CA.pem" // the CA that signed --tls-cert
					if cfg.TLS.ClientCA != "" {
						how += " --tls-client-cert CERT --tls-client-key KEY"
					}
				}
				if d.Users > 0 {
					how += " --login " + filepath.Join(cfg.Users, "NAME"+access.LoginSuffix) // a submitter's
				}
				fmt.Printf("Submit the example: bin/dreamrank submit examples/ranking.yaml --watch --nats %s%s\n", d.URL, how)
			})
		},
	}
	bf.register(cmd)
	registerWorkers(cmd, &cfg.Workers, 2)
	f := cmd.Flags()
	f.StringVar(&cfg.Data, "data", "data", "data directory (the embedded server's JetStream files; the episode store whose held-out episodes the nightly checkpoint's fidelity is measured on)")
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:4222", "host:port of the embedded NATS server")
	registerNightly(cmd, &cfg.Nightly, true)
	registerFleet(cmd, &cfg.Fleet)
	f.IntVar(&cfg.SimRobots, "sim-robots", 0, "simulated PushT robots to run in this process; each joins the fleet over NATS with its own nkey login (created under --robots)")
	f.StringVar(&cfg.Real, "real", deploy.RealAuto, "who plays jobs' real episodes: fleet, simulator, or auto (the fleet when robots have logins)")
	f.StringVar(&cfg.HTTP, "http", "127.0.0.1:8080", "address of the web UI (\"\" disables)")
	f.StringVar(&zooF, "zoo", "", "policy zoo file jobs may name arms of (default: the built-in zoo)")
	f.IntVar(&cfg.Server.MaxActive, "max-active", 1000, "unfinished jobs allowed at once (more: quota_exceeded)")
	f.IntVar(&cfg.Server.Quota.MaxQueuedTasks, "quota-tasks", 4096, "each submitter's tasks queued or running at once (more: quota_exceeded; 0: no limit; a user's own quota in NAME.user.json wins)")
	f.IntVar(&cfg.Server.Quota.MaxRollouts, "quota-rollouts", 40000, "each submitter's imagined rollouts in flight at once (more: quota_exceeded; 0: no limit)")
	f.StringVar(&cfg.Users, "users", "data/users", "directory of user logins (NAME.user.json from 'dreamrank creds add'), each allowed only its role's subjects (default: --data/users)")
	f.Var(&maxStore, "max-store", "JetStream storage cap of the embedded server, e.g. 20G, shared among the queue, outcomes, buckets and artifacts (default: 75% of the free disk)")
	tf.register(cmd)
	f.IntVar(&cfg.Server.Queue.Replicas, "replicas", 1, "JetStream replicas of streams and buckets (3 on a cluster)")
	f.DurationVar(&cfg.Server.Queue.AckWait, "ack-wait", 30*time.Second, "a task without a worker heartbeat this long is redelivered")
	return cmd
}
