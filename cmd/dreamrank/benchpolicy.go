package main

import (
	"fmt"

	"github.com/spf13/cobra"

	policybench "dreamrank/policy/bench"
)

func benchPolicyCmd() *cobra.Command {
	var (
		pf     policyFlags
		cfg    policybench.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "policy NAME",
		Short: "Policy inference latency per action chunk at batch 1 (median, p90) and chunks/s at the best batch size",
		Long: `Times Act calls of the policy NAME (a zoo arm, or a backend with --opt) on
PushT camera frames: latency per action chunk at batch 1 (median and 90th
percentile over --latency-calls calls) and throughput in chunks per second at
batch sizes 1, 2, 4, ..., 64 (each timed for --duration).`,
		Example: `  dreamrank bench policy scripted-q5 --json
  dreamrank bench policy nats --opt nats_url=nats://host:4222 --opt policy=scripted-q5`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, steer, label, err := pf.open(cmd, args[0])
			if err != nil {
				return err
			}
			defer closePolicy(p)
			cfg.Steer = steer
			rep, err := policybench.Run(cmd.Context(), p, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(struct {
					Policy string `json:"policy"`
					policybench.Report
				}{label, rep})
			}
			fmt.Printf("policy %s, chunks of %d actions\n", label, rep.ChunkLen)
			fmt.Printf("latency at batch 1: median %.1f ms, p90 %.1f ms per chunk (%d calls)\n", rep.LatencyMsMedian, rep.LatencyMsP90, rep.LatencyCalls)
			fmt.Printf("%6s %12s %12s\n", "batch", "ms per call", "chunks/s")
			for _, b := range rep.Batches {
				fmt.Printf("%6d %12.1f %12.1f\n", b.Batch, b.MsPerCall, b.ChunksPerSec)
			}
			fmt.Printf("best batch %d: %.1f chunks/s\n", rep.BestBatch, rep.ChunksPerSecBest)
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().IntSliceVar(&cfg.Batches, "batches", nil, "batch sizes for throughput (default 1,2,4,8,16,32,64)")
	cmd.Flags().IntVar(&cfg.LatencyCalls, "latency-calls", 0, "timed batch-1 calls (default 30)")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", 0, "timed calling per batch size (default 2s)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
