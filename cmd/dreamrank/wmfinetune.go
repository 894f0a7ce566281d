package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/finetune"
	"dreamrank/worldmodel/objects"
)

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
the held-out new episodes (latent.IsHeldOut, never trained on) when there are
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
