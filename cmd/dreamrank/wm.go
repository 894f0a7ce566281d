package main

import (
	"dreamrank/ops/job"
	"dreamrank/ops/wmfidelity"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/finetune"
	"dreamrank/worldmodel/latent"
	"dreamrank/worldmodel/objects"
	"dreamrank/worldmodel/remote"
)

func wmCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "wm", Short: "World models: train, evaluate, serve, render rollouts"}
	cmd.AddCommand(wmTrainCmd(), wmTrainObjectsCmd(), wmTrainSlotsCmd(), wmFineTuneCmd(), wmEvalCmd(), wmHorizonCmd(), wmApproachCmd(), wmVideoCmd(), wmServeCmd())
	return cmd
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
			printTrained(last.Step, last.Loss, last.ExamplesPerSec, path)
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
			ui := newTrainUI(false)
			path, err := objects.Train(cmd.Context(), store, cfg, func(p objects.TrainProgress) {
				if p.Message != "" {
					ui.message(p.Message)
					return
				}
				ui.stepDone(trainStep{p.Step, p.Steps, p.Loss, p.ExamplesPerSec, p.Elapsed}, p.Checkpoint)
			})
			return ui.done(path, err, "already trained")
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

func wmFineTuneCmd() *cobra.Command {
	cfg := objects.DefaultFineTuneConfig()
	var (
		data, since string
		withSim     bool
		minNewEval  int
		evalLimit   int
		evalCfg     fidelity.Config
		noEval      bool
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "finetune",
		Short: "Continue training the structured world model (backend objects) on new episodes (fleet logs by default), record the dataset manifest, report fidelity before and after",
		Long: `Copies the latest checkpoint of --from into --out and continues training it for
--steps on the episodes of the store it has not seen (not in its manifest nor
its ancestors'), of --source (default fleet) and created at or after --since,
plus --replay of its own training episodes per new one (drawn with --seed) so
it does not forget the old distribution. The learning rate restarts at --lr
and decays by a cosine to a tenth over the fine-tune. Checkpoints are
versioned in --out (steps continue from the parent's); the dataset manifest
(new and replayed episode ids by source, counts, time range, data hashes, the
parent's identity, and the fidelity below) is finetune.json in the new
checkpoint directory.

Fidelity before (the parent) and after, on wm eval's held-out episodes and on
the held-out new episodes (split.IsHeldOut, never trained on) when there are
at least --min-new-eval of them.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if since != "" {
				t, err := parseSince(since, time.Now())
				if err != nil {
					return err
				}
				cfg.Since = t
			}
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			rep, err := finetune.Run(ctx, store, cfg, finetune.Eval{Data: data, WithSim: withSim, MinNew: minNewEval, Limit: evalLimit, Config: evalCfg, Skip: noEval}, os.Stderr)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			printFineTune(rep)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.Parent, "from", cfg.Parent, "checkpoint to continue from (a checkpoint or training directory: its latest)")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "output directory: a copy of the parent, then the fine-tune's versioned checkpoints (new, the parent's own, or an interrupted fine-tune of the same parent)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps on top of the parent's")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "peak Adam learning rate (cosine decay to a tenth over the fine-tune)")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "windows per optimizer step (0: the parent's)")
	f.IntVar(&cfg.Unroll, "unroll", cfg.Unroll, "predicted steps per window (0: the parent's)")
	f.StringVar(&cfg.Source, "source", cfg.Source, "source of the new episodes (empty: any)")
	f.StringVar(&since, "since", "", "only new episodes created at or after this time (RFC 3339, or a duration back from now such as 24h)")
	f.Float64Var(&cfg.Replay, "replay", cfg.Replay, "parent training episodes replayed per new episode (0: none)")
	f.IntVar(&cfg.MaxNew, "max-new", cfg.MaxNew, "at most this many new training episodes, oldest first (0: all)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (replay sample, batches)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Threads, "threads", cfg.Threads, "goroutines reading frames")
	f.BoolVar(&withSim, "with-sim", false, "also evaluate on held-out simulated episodes (as wm eval --with-sim)")
	f.IntVar(&minNewEval, "min-new-eval", 3, "evaluate on the held-out new episodes when there are at least this many")
	f.IntVar(&evalLimit, "eval-episodes", 0, "evaluate on at most this many episodes per set (0: all)")
	f.IntVar(&evalCfg.MaxWindows, "max-windows", 0, "evaluate at most this many windows per set (0: all)")
	f.BoolVar(&noEval, "no-eval", false, "skip the before/after fidelity")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// parseSince reads --since: an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time or a positive duration such as 24h", s)
}

func printFineTune(rep *finetune.Report) {
	fmt.Printf("fine-tuned %s (step %d) to step %d on %d new and %d replayed episodes (%d steps) in %.0f s\ncheckpoint %s\n",
		rep.Parent.Dir, rep.FromStep, rep.ToStep, rep.Counts["new_episodes"], rep.Counts["replay_episodes"], rep.Counts["train_steps"], rep.TrainSecs, rep.Checkpoint)
	for _, s := range rep.Fidelity {
		fmt.Printf("\n%s: %d episodes, %d windows\n%-20s %12s %12s\n", s.Set, s.Episodes, s.Windows, "metric", "before", "after")
		b, a := s.Before.Map(), s.After.Map()
		for _, k := range sortedKeys(b) {
			fmt.Printf("%-20s %12.4f %12.4f\n", k, b[k], a[k])
		}
	}
	if rep.Unevaluated != "" {
		fmt.Println("not evaluated:", rep.Unevaluated)
	}
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
			opts, err := hf.mf.options()
			if err != nil {
				return err
			}
			ref := job.ModelRef{Backend: hf.mf.backend, Options: opts}
			bar, finish := progress.Bar(os.Stderr, "imagining windows")
			rec, err := wmfidelity.Evaluate(cmd.Context(), ref, hf.heldOut(), cfg, bar)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rec.File())
			}
			return printFidelity(rec.Report)
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

func wmApproachCmd() *cobra.Command {
	var (
		hf     heldOutFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "approach",
		Short: "Replay the last real actions before each held-out episode's best moment and compare the goal coverage reached",
		Long: `For each held-out episode with ground truth, finds its best moment (the
highest true coverage of the goal) and imagines the final approach from 1,
4, 8, 16 and 32 steps before it under the episode's own actions, then reads
the goal coverage of the imagined and the real frame with the same reader.
Success is won or lost in these last pushes; a deficit here is what makes a
world model pessimistic in closed loop. --backend oracle (the simulator
started from the same frame) shows the deficit no model can avoid.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			eps, m, err := hf.open(ctx)
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "imagining approaches")
			rows, err := fidelity.Approach(ctx, m, eps, bar)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rows)
			}
			fmt.Printf("%-8s %8s %10s %10s %10s %10s\n", "steps", "episodes", "real", "imagined", "deficit", "unreadable")
			for _, r := range rows {
				fmt.Printf("%-8d %8d %10.4f %10.4f %10.4f %10d\n", r.Horizon, r.Episodes, r.Real, r.Imagined, r.Deficit, r.Unreadable)
			}
			return nil
		},
	}
	hf.register(cmd, "also use held-out simulated episodes", "at most this many held-out episodes (0: all)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
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

func wmServeCmd() *cobra.Command {
	var (
		mf   modelFlags
		bf   busFlags
		name string
		data string
		port int
		opts remote.ServeOptions
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a world model over NATS (protocol: worldmodel/remote/PROTOCOL.md)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, closeNC, err := bf.connectOrEmbed(ctx, data, port, "dreamrank wm serve "+name)
			if err != nil {
				return err
			}
			defer closeNC()
			m, err := mf.open(ctx)
			if err != nil {
				return err
			}
			srv, err := remote.Serve(ctx, nc, name, m, opts)
			if err != nil {
				return err
			}
			fmt.Printf("serving world model %q on %s (backend %s); Ctrl-C stops\n", name, bf.cfg.URL, mf.backend)
			<-ctx.Done()
			srv.Stop()
			return nil
		},
	}
	mf.register(cmd)
	bf.register(cmd)
	cmd.Flags().StringVar(&name, "name", "pusht", "name the model is served under (subjects dreamrank.wm.<name>.*)")
	cmd.Flags().StringVar(&data, "data", "data", "data directory (the embedded server's JetStream files)")
	cmd.Flags().IntVar(&port, "port", 4222, "port of the embedded server")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 1, "requests run at once (models need not be safe for concurrent use)")
	cmd.Flags().DurationVar(&opts.IdleTTL, "session-ttl", 0, "close sessions idle this long (0: default 5m)")
	return cmd
}
