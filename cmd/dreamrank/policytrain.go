package main

import (
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/policy/flow"
)

func policyTrainCmd() *cobra.Command {
	cfg := flow.DefaultTrainConfig()
	var (
		data     string
		logEvery int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the steerable flow-matching policy on the episode store (resumes from --out when it holds a checkpoint)",
		Long: `Train the steerable flow-matching policy (policy/flow) by behaviour cloning
on every usable episode of the store: imported human demonstrations and
scripted-expert episodes labelled with speed, quality and mistake flags.
Training has two stages: --steps end to end (image encoder and flow head),
then --head-steps of the flow head alone on the frozen encoder's features,
computed once (convolutions dominate a step's cost on CPU, so the head gets
many more updates). Checkpoints are written every --checkpoint-every steps
and all are kept (the policy zoo uses checkpoints along training).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			cfg.Data = data
			bar, finish := progress.Bar(os.Stderr, "training policy")
			var last flow.Progress
			path, err := flow.Train(cmd.Context(), store, cfg, func(p flow.Progress) {
				switch {
				case p.Message != "":
					slog.Info(p.Message)
				case p.Checkpoint != "":
					slog.Info("checkpoint", "path", p.Checkpoint, "step", p.Step, "stage", p.Stage, "loss", p.Loss)
				case p.Step > 0 && p.Step%logEvery == 0:
					slog.Info("training", "step", p.Step, "stage", p.Stage, "loss", p.Loss, "lr", p.LR,
						"examples_per_s", int(p.ExamplesPerSec), "stage_eta", p.ETA.Round(time.Second))
				}
				last = p
				bar(p.Step, p.Steps)
			})
			finish()
			if err != nil {
				return err
			}
			if last.ExamplesPerSec == 0 {
				fmt.Printf("already trained to step %d\ncheckpoint %s\n", last.Step, path)
				return nil
			}
			fmt.Printf("trained to step %d, loss %.5f, %.1f examples/s\ncheckpoint %s\n", last.Step, last.Loss, last.ExamplesPerSec, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "checkpoint directory (training resumes from it)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps of the end-to-end stage")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "examples per step of the end-to-end stage")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "AdamW peak learning rate of the end-to-end stage (cosine decay)")
	f.IntVar(&cfg.HeadSteps, "head-steps", cfg.HeadSteps, "optimizer steps of the head-only stage (frozen encoder; 0: none)")
	f.IntVar(&cfg.HeadBatch, "head-batch", cfg.HeadBatch, "examples per step of the head-only stage")
	f.Float64Var(&cfg.HeadLR, "head-lr", cfg.HeadLR, "peak learning rate of the head-only stage")
	f.IntVar(&logEvery, "log-every", 50, "steps between progress log lines")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, initialisation)")
	f.IntVar(&cfg.MaxEpisodes, "max-episodes", cfg.MaxEpisodes, "training episodes per source (0: all)")
	f.StringSliceVar(&cfg.Sources, "source", nil, "only episodes of these sources (pusht_cchi_v7_replay, sim); default all")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Keep, "keep", cfg.Keep, "checkpoints to keep (0: all)")
	f.IntVar(&cfg.Model.Hidden, "hidden", cfg.Model.Hidden, "width of the flow head")
	f.IntVar(&cfg.Model.Horizon, "horizon", cfg.Model.Horizon, "actions per chunk")
	return cmd
}
