package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/objects"
)

// defaultObjectsCheckpoint is the committed structured PushT world model.
const defaultObjectsCheckpoint = "checkpoints/pusht-objects"

func wmTrainObjectsCmd() *cobra.Command {
	cfg := objects.DefaultTrainConfig()
	var data string
	cmd := &cobra.Command{
		Use:   "train-objects",
		Short: "Train the structured PushT world model (backend objects) on the episode store (resumes from --out)",
		Long: `Reads the block pose from every training frame with the PushT pose reader
(cached in --out/poses.json), fits the pusher's linear head and trains the
block dynamics network multi-step, writing versioned checkpoints to --out.
Held-out episodes follow the built-in model's rule, so wm eval numbers compare.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "training")
			var last objects.TrainProgress
			path, err := objects.Train(cmd.Context(), store, cfg, func(p objects.TrainProgress) {
				if p.Message != "" {
					slog.Info(p.Message)
					return
				}
				if p.Checkpoint != "" {
					slog.Info("checkpoint", "path", p.Checkpoint, "step", p.Step, "loss", p.Loss)
				}
				last = p
				bar(p.Step, p.Steps)
			})
			finish()
			if err != nil {
				return err
			}
			if last.ExamplesPerSec == 0 {
				fmt.Printf("already trained\ncheckpoint %s\n", path)
				return nil
			}
			fmt.Printf("trained to step %d, loss %.5f, %.1f windows/s, %v\ncheckpoint %s\n", last.Step, last.Loss, last.ExamplesPerSec, last.Elapsed.Round(1e9), path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "checkpoint directory (training resumes from it; the pose cache lives there)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "windows per optimizer step")
	f.IntVar(&cfg.Unroll, "unroll", cfg.Unroll, "predicted steps per window (the model's own predictions fed back)")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate (cosine decay to a tenth)")
	f.Float64Var(&cfg.MovingFrac, "moving-frac", cfg.MovingFrac, "share of windows where the block moves")
	f.IntVar(&cfg.Model.Hidden, "hidden", cfg.Model.Hidden, "hidden width of the block network")
	f.IntVar(&cfg.Model.Layers, "layers", cfg.Model.Layers, "hidden layers of the block network")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (initialisation, batches)")
	f.IntVar(&cfg.MaxEpisodes, "max-episodes", cfg.MaxEpisodes, "training episodes per source (0: all)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Threads, "threads", cfg.Threads, "goroutines reading frames")
	return cmd
}

func wmHorizonCmd() *cobra.Command {
	var (
		hf       heldOutFlags
		maxSteps int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "horizon",
		Short: "Open-loop long-horizon block-pose error on held-out episodes (up to 300 steps) vs a block that never moves",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			eps, m, err := hf.open(ctx)
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "imagining episodes")
			rep, err := fidelity.LongHorizon(ctx, m, eps, maxSteps, bar)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("%d held-out episodes, %.0f steps imagined on average\n", rep.Episodes, rep.Steps)
			fmt.Printf("%-8s %8s %10s %12s %12s %14s %14s %10s\n", "horizon", "episodes", "unreadable", "block px", "block rad", "still px", "still rad", "coverage")
			row := func(name string, r fidelity.LongHorizonRow) {
				fmt.Printf("%-8s %8d %10.3f %12.2f %12.3f %14.2f %14.3f %10.3f\n", name, r.Episodes, r.Unreadable, r.BlockPx, r.BlockRad, r.BasePx, r.BaseRad, r.CoverageErr)
			}
			for _, r := range rep.Rows {
				row(fmt.Sprint(r.Horizon), r)
			}
			row("final", rep.Final)
			row("all", rep.AllSteps)
			return nil
		},
	}
	hf.register(cmd, "also use held-out simulated episodes", "at most this many held-out episodes (0: all)")
	cmd.Flags().IntVar(&maxSteps, "steps", 300, "imagine at most this many steps per episode")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
