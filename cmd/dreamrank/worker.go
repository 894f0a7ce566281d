package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"dreamrank/ops/deploy"
)

func workerCmd() *cobra.Command {
	var (
		bf busFlags
		w  deploy.Workers
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run task workers against a job server's NATS (imagined rollouts in the named world models)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, res, err := bf.workerQueue(ctx, "dreamrank worker")
			if err != nil {
				return err
			}
			defer nc.Close()
			host, _ := os.Hostname()
			wg := w.Run(ctx, res, host)
			fmt.Printf("%d workers pulling tasks from %s; Ctrl-C stops.\n", w.N, bf.cfg.URL)
			wg.Wait()
			return nil
		},
	}
	bf.registerClient(cmd)
	registerWorkers(cmd, &w, 1)
	return cmd
}
