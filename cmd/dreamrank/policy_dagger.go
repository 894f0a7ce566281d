package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/progress"
	"dreamrank/policy"
	"dreamrank/policy/dagger"
)

func policyDaggerCmd() *cobra.Command {
	cfg := dagger.DefaultConfig()
	var (
		contexts []string
		logEvery int
	)
	cmd := &cobra.Command{
		Use:   "dagger",
		Short: "Train the pose-reader flow policy by behaviour cloning and DAgger relabelling with the scripted expert (resumes from --out)",
		Long: `Train the steerable flow-matching policy on the pose reader's front end
(policy/flow with encoder "pose": the fixed PushT pose reader turns the
96x96 frame into the block pose; the pusher position is the proprio; only
the flow head is learned) by DAgger (policy/dagger): round 0 rolls out the
scripted expert on training seeds and keeps its chunks as labels; every later
round rolls out the previous round's checkpoint and relabels every
observation it was asked about with the chunk the scripted expert would play
from there, for the same steering metadata; each round trains the head on
all labels so far (plus the episodes of --data, if given), starting from
the previous round's weights, and measures success on held-out training
seeds. Rollout and evaluation seeds never touch the test seeds. Everything
is written under --out and the command resumes where it stopped.`,
		Example: `  dreamrank policy dagger --data /work/data-pose --out /work/data-pose/policy/pose`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(contexts) > 0 {
				cfg.Contexts = nil
				for _, s := range contexts {
					m, err := parseMetadata(s)
					if err != nil {
						return err
					}
					cfg.Contexts = append(cfg.Contexts, m)
				}
			}
			var (
				phase  string
				bar    progress.Func
				finish = func() {}
			)
			st, err := dagger.Run(cmd.Context(), cfg, func(p dagger.Progress) {
				if p.Message != "" {
					slog.Info(p.Message)
					return
				}
				name := fmt.Sprintf("round %d %s", p.Round, p.Phase)
				if p.Phase == "load" {
					name = "loading episodes"
				}
				if name != phase {
					finish()
					phase = name
					bar, finish = progress.Bar(os.Stderr, name)
				}
				if t := p.Train; t != nil {
					switch {
					case t.Message != "":
						slog.Info(t.Message, "round", p.Round)
					case t.Step > 0 && t.Step%logEvery == 0:
						slog.Info("training", "round", p.Round, "step", t.Step, "loss", t.Loss, "lr", t.LR,
							"examples_per_s", int(t.ExamplesPerSec), "eta", t.ETA.Round(time.Second))
					}
					bar(t.Step, t.Steps)
					return
				}
				bar(p.Done, p.Total)
			})
			finish()
			if err != nil {
				return err
			}
			for _, r := range st.Rounds {
				line := fmt.Sprintf("round %d: %d labelled, %d in all, rollout success %.2f", r.Round, r.Labelled, r.Total, r.RolloutSuccess)
				if e := r.Eval; e != nil {
					line += fmt.Sprintf(", held-out %d/%d = %.2f [%.2f, %.2f]", e.Successes, e.Episodes, e.SuccessRate, e.SuccessCI[0], e.SuccessCI[1])
				}
				fmt.Println(line + "\n  checkpoint " + r.Checkpoint)
			}
			return nil
		},
	}
	f := cmd.Flags()
	t := &cfg.Train
	f.StringVar(&cfg.Data, "data", cfg.Data, "data directory whose episode store trains alongside the relabelled examples (empty: none)")
	f.StringVar(&t.OutDir, "out", t.OutDir, "output directory: labels, per-round checkpoints, dagger.json (the run resumes from it)")
	f.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "DAgger rounds (round 0 rolls out the expert)")
	f.IntVar(&cfg.Seeds, "seeds", cfg.Seeds, "rollout episodes per round")
	f.Int64Var(&cfg.FirstSeed, "first-seed", cfg.FirstSeed, "first rollout seed (round r uses first-seed + r*seeds ...)")
	f.IntVar(&cfg.EvalSeeds, "eval-seeds", cfg.EvalSeeds, "held-out training seeds measuring each round (0: none)")
	f.Int64Var(&cfg.EvalFirstSeed, "eval-first-seed", cfg.EvalFirstSeed, "first held-out seed")
	f.IntVar(&cfg.Execute, "execute", cfg.Execute, "actions executed per chunk in rollouts (each policy call is one labelled example)")
	f.StringArrayVar(&contexts, "context", nil, "steering metadata quality:speed[:mistake] of rollouts and labels (repeatable; default 5:normal)")
	f.Float64Var(&cfg.Share, "share", cfg.Share, "fraction of each batch drawn from the relabelled examples when --data trains alongside")
	f.IntVar(&cfg.Workers, "workers", cfg.Workers, "parallel simulation and labelling")
	f.IntVar(&t.HeadSteps, "steps", t.HeadSteps, "optimizer steps of the head per round")
	f.IntVar(&t.HeadBatch, "batch", t.HeadBatch, "examples per step")
	f.Float64Var(&t.HeadLR, "lr", t.HeadLR, "peak learning rate per round (cosine decay)")
	f.IntVar(&t.CheckpointEvery, "checkpoint-every", t.CheckpointEvery, "steps between checkpoints within a round")
	f.IntVar(&t.Keep, "keep", t.Keep, "checkpoints kept per round (0: all)")
	f.Uint64Var(&t.Seed, "seed", t.Seed, "random seed (initialisation, data order; round r uses seed + r)")
	f.IntVar(&t.Model.Hidden, "hidden", t.Model.Hidden, "width of the flow head")
	f.IntVar(&t.Model.Layers, "layers", t.Model.Layers, "hidden layers of the flow head")
	f.Float64Var(&t.Model.Relative, "relative", t.Model.Relative, "predict actions as offsets from the pusher, scaled by this (0: absolute positions, as checkpoints before it)")
	f.StringArrayVar(&cfg.Warm, "warm", nil, "output directory of an earlier run whose labels train in every round (repeatable)")
	f.IntVar(&logEvery, "log-every", 500, "steps between progress log lines")
	return cmd
}

// parseMetadata reads quality:speed[:mistake], e.g. 5:normal or 2:slow:true.
func parseMetadata(s string) (policy.Metadata, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return policy.Metadata{}, fmt.Errorf("%w: context %q: want quality:speed[:mistake]", policy.ErrBadInput, s)
	}
	q, err := strconv.Atoi(parts[0])
	if err != nil || q < 1 || q > 5 {
		return policy.Metadata{}, fmt.Errorf("%w: context %q: quality 1..5", policy.ErrBadInput, s)
	}
	m := policy.Metadata{Quality: q, Speed: parts[1]}
	if len(parts) == 3 {
		b, err := strconv.ParseBool(parts[2])
		if err != nil {
			return policy.Metadata{}, fmt.Errorf("%w: context %q: mistake: %v", policy.ErrBadInput, s, err)
		}
		m.Mistake = &b
	}
	return m, nil
}
