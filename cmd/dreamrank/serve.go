package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/ops/deploy"
)

func serveCmd() *cobra.Command {
	var (
		bf   busFlags
		zooF string
		cfg  deploy.Config
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
			// The fleet's directories follow --data unless given.
			if !cmd.Flags().Changed("robots") {
				cfg.Fleet.Robots = filepath.Join(cfg.Data, "robots")
			}
			if !cmd.Flags().Changed("fleet-episodes") {
				cfg.Fleet.Episodes = cfg.Data // the store's root, as episode.Open(data) everywhere else
			}
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
				fmt.Printf("Submit the example: bin/dreamrank submit examples/ranking.yaml --watch --nats %s\n", d.URL)
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
	f.IntVar(&cfg.Server.Queue.Replicas, "replicas", 1, "JetStream replicas of streams and buckets (3 on a cluster)")
	f.DurationVar(&cfg.Server.Queue.AckWait, "ack-wait", 30*time.Second, "a task without a worker heartbeat this long is redelivered")
	return cmd
}
