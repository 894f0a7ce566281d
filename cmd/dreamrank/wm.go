package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/latent"
	"dreamrank/worldmodel/objects"
)

// defaultCheckpoint is the committed PushT world model the demo uses.
const defaultCheckpoint = "checkpoints/pusht-wm"

func wmCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "wm", Short: "World models: train, evaluate, serve, render rollouts"}
	cmd.AddCommand(wmTrainCmd(), wmTrainObjectsCmd(), wmFineTuneCmd(), wmEvalCmd(), wmHorizonCmd(), wmVideoCmd(), wmServeCmd())
	return cmd
}

// modelFlags choose a world model by backend name and options.
type modelFlags struct {
	backend    string
	checkpoint string
	opts       []string
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.backend, "backend", latent.Name, "world-model backend: "+strings.Join(worldmodel.Backends(), ", "))
	cmd.Flags().StringVar(&f.checkpoint, "checkpoint", defaultCheckpoint, "checkpoint directory of the built-in model (a run directory with a latest pointer works too)")
	cmd.Flags().StringArrayVar(&f.opts, "opt", nil, "backend option key=value (repeatable), e.g. --opt nats_url=nats://host:4222 --opt model=pusht")
}

func (f *modelFlags) open(ctx context.Context) (worldmodel.Model, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return worldmodel.Open(ctx, f.backend, opts)
}

// options are the backend's options: the default checkpoint of the
// built-in and objects backends, then --opt.
func (f *modelFlags) options() (worldmodel.Options, error) {
	opts := worldmodel.Options{}
	switch f.backend {
	case latent.Name:
		opts["checkpoint"] = f.checkpoint
	case objects.Name:
		opts["checkpoint"] = defaultObjectsCheckpoint // --opt checkpoint=DIR overrides
	}
	for _, kv := range f.opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--opt %q: want key=value", kv)
		}
		opts[k] = v
	}
	return opts, nil
}

// heldOutFlags choose a world model and the held-out episodes it is
// measured on (latent.LoadHeldOut).
type heldOutFlags struct {
	mf      modelFlags
	data    string
	withSim bool
	limit   int
}

// register registers the flags, with the usage of --with-sim and
// --episodes, which say what the command does with the episodes.
func (f *heldOutFlags) register(cmd *cobra.Command, withSimUsage, episodesUsage string) {
	f.mf.register(cmd)
	cmd.Flags().StringVar(&f.data, "data", "data", "data directory holding the episode store")
	cmd.Flags().BoolVar(&f.withSim, "with-sim", false, withSimUsage)
	cmd.Flags().IntVar(&f.limit, "episodes", 0, episodesUsage)
}

// open loads the held-out episodes and opens the model.
func (f *heldOutFlags) open(ctx context.Context) ([]*episode.Episode, worldmodel.Model, error) {
	eps, err := latent.LoadHeldOut(ctx, f.data, f.withSim, f.limit)
	if err != nil {
		return nil, nil, err
	}
	m, err := f.mf.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return eps, m, nil
}

func wmTrainCmd() *cobra.Command {
	cfg := latent.DefaultTrainConfig()
	var (
		data          string
		fineTuneSteps int
	)
	if cfg.FineTune != nil {
		fineTuneSteps = cfg.FineTune.Steps
	}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the built-in world model on the episode store (resumes from --out when it holds a checkpoint)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			switch {
			case fineTuneSteps <= 0:
				cfg.FineTune = nil
			case cfg.FineTune != nil:
				cfg.FineTune.Steps = fineTuneSteps
			}
			bar, finish := progress.Bar(os.Stderr, "training")
			var last latent.TrainProgress
			path, err := latent.Train(cmd.Context(), store, cfg, func(p latent.TrainProgress) {
				if p.Message != "" {
					slog.Info(p.Message)
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
				// Resumed a finished run: nothing left to train.
				fmt.Printf("already trained to step %d\ncheckpoint %s\n", last.Step, path)
				return nil
			}
			fmt.Printf("trained to step %d, loss %.5f, %.1f examples/s\ncheckpoint %s\n", last.Step, last.Loss, last.ExamplesPerSec, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.OutDir, "out", "data/wm/pusht", "checkpoint directory (training resumes from it)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps of the first stage")
	f.IntVar(&fineTuneSteps, "finetune-steps", fineTuneSteps, "steps of the long-unroll fine-tune stage after the first (0: none)")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "examples per optimizer step")
	f.IntVar(&cfg.Unroll, "unroll", cfg.Unroll, "predicted steps per example (multi-step training)")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, initialisation)")
	f.IntVar(&cfg.MaxEpisodes, "max-episodes", cfg.MaxEpisodes, "training episodes per source (0: all)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	return cmd
}

func wmEvalCmd() *cobra.Command {
	var (
		hf     heldOutFlags
		cfg    fidelity.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Fidelity of a world model on held-out episodes (PSNR, SSIM, agent and block errors at 1/8/32 steps) vs copy-last-frame",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			eps, m, err := hf.open(ctx)
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "imagining windows")
			rep, err := fidelity.EvaluateWithBaseline(ctx, m, eps, cfg, bar)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			return printFidelity(rep)
		},
	}
	hf.register(cmd, "also evaluate on held-out simulated episodes", "evaluate on at most this many held-out episodes (0: all)")
	cmd.Flags().IntVar(&cfg.MaxWindows, "max-windows", 0, "evaluate at most this many windows (0: all)")
	cmd.Flags().IntVar(&cfg.Batch, "batch", 0, "windows imagined at once (0: default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printFidelity(rep fidelity.Report) error {
	fmt.Printf("%d held-out episodes, %d windows of 32 steps\n", rep.Episodes, rep.Windows)
	model, base := metricMap(rep.Metrics), map[string]float64{}
	if rep.Baseline != nil {
		base = metricMap(*rep.Baseline)
	}
	fmt.Printf("%-20s %12s %12s  %s\n", "metric", "model", "copy-last", "beats")
	for _, k := range sortedKeys(model) {
		fmt.Printf("%-20s %12.4f %12.4f  %v\n", k, model[k], base[k], rep.BeatsBaseline[k])
	}
	return nil
}

func wmVideoCmd() *cobra.Command {
	var (
		mf    modelFlags
		data  string
		id    string
		start int
		steps int
		out   string
	)
	cmd := &cobra.Command{
		Use:   "video",
		Short: "Write an imagined rollout beside the real one as mp4 (the episode's own actions)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			e, err := store.Get(ctx, id)
			if err != nil {
				return err
			}
			m, err := mf.open(ctx)
			if err != nil {
				return err
			}
			steps = min(steps, e.Steps-1-start)
			if start < 0 || steps < 1 {
				return fmt.Errorf("episode %s has %d steps: nothing to imagine from step %d", id, e.Steps, start)
			}
			n, err := fidelity.WriteImagined(ctx, m, e, start, steps, 8, out, 10)
			if err != nil {
				return err
			}
			fmt.Printf("%s: %d imagined steps (left) beside the real episode (right)\n", out, n)
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().StringVar(&id, "episode", "", "episode id (see dreamrank episodes list)")
	cmd.Flags().IntVar(&start, "start", 0, "step to start imagining from")
	cmd.Flags().IntVar(&steps, "steps", 64, "steps to imagine")
	cmd.Flags().StringVarP(&out, "out", "o", "rollout.mp4", "output mp4")
	_ = cmd.MarkFlagRequired("episode")
	return cmd
}
