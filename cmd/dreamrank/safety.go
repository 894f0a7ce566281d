package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/safety"
	"dreamrank/evaluator/validation"
	"dreamrank/evaluator/validation/simpool"
	"dreamrank/evaluator/validation/wmpool"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/ops/job"
	"dreamrank/policy/expert"
)

func safetyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "safety", Short: "Keep-out-zone safety scenarios and their validation pools"}
	cmd.AddCommand(safetyPoolCmd(), safetyEvalCmd(), safetyJoinCmd())
	return cmd
}

func safetyJoinCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "join -o FILE POOL...",
		Short: "Join learned world-model pools (safety pool --world-model): other scenario seeds are concatenated; the same seeds with disjoint perturbed draws (--wm-draw-seed) become one larger ensemble",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("-o is required")
			}
			var pools []validation.Pool
			for _, a := range args {
				p, err := validation.Read(a) // parts may be small; the joined pool is validated
				if err != nil {
					return err
				}
				pools = append(pools, p)
			}
			joined, err := wmpool.Join(pools...)
			if err != nil {
				return err
			}
			if err := joined.Save(out); err != nil {
				return err
			}
			slog.Info("pool written", "file", out, "records", len(joined.Records), "draw_seeds", joined.DrawSeeds, "violation_rate", joined.Truth())
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "joined pool JSON to write")
	return cmd
}

func safetyEvalCmd() *cobra.Command {
	var (
		arms   []string
		cfg    safety.Config
		model  pusht.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Estimate each arm's keep-out-zone violation rate from imagined episodes and a real budget spent over strata in adaptive rounds (the simulator answers for the fleet and, with wrong pusher gains, for the world model)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			byName := map[string]expert.Options{}
			for _, a := range arms {
				var q int
				if _, err := fmt.Sscanf(a, "q%d", &q); err != nil || q < 1 || q > expert.Best {
					return fmt.Errorf("--arms: %q is not q1..q5 (scripted expert quality)", a)
				}
				byName[a] = expert.Options{Quality: q}
			}
			cfg.Arms = arms
			if cfg.Budget == 0 {
				cfg.Budget = 30 * len(arms)
			}
			report, finish := progress.Bar(nil, "episodes")
			cfg.Progress = report
			rep, err := safety.Run(cmd.Context(), simpool.NewSimulator(byName, model), cfg)
			finish()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("stratum weights %.3f; real budget %d in rounds %v\n", rep.StratumWeights, rep.RealBudget, rep.Rounds)
			for _, a := range rep.Arms {
				fmt.Printf("%s: real episodes per stratum %v\n", a.Arm, a.RealPerStratum)
				for _, e := range a.Estimates {
					fmt.Printf("  %-22s %.3f [%.3f, %.3f] (%s, SE %.3f, %d real, %d imagined)\n", e.Estimator, e.Estimate, e.Lo, e.Hi, e.Interval, e.SE, e.NReal, e.NImagined)
					for _, n := range e.Notes {
						fmt.Printf("    %s\n", n)
					}
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&arms, "arms", []string{"q5"}, "arms: scripted expert qualities q1..q5")
	f.IntVar(&cfg.Imagined, "imagined", 200, "imagined episodes per arm")
	f.IntVar(&cfg.Budget, "budget", 0, "real episodes over all arms (default 30 per arm)")
	f.IntVar(&cfg.Rounds, "rounds", 2, "allocation rounds")
	f.Float64Var(&model.Kp, "model-kp", 60, "stand-in world model: pusher position gain (reference 100)")
	f.Float64Var(&model.Kv, "model-kv", 30, "stand-in world model: pusher velocity gain (reference 20)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func safetyPoolCmd() *cobra.Command {
	var (
		cfg        simpool.Config
		wm         wmpool.Config
		backend    string
		mopts      []string
		arm        string
		jf         judgeFlags
		out        string
		stats      string
		draws      int
		wmDraws    int
		wmDrawSeed int
		wmNoise    float64
	)
	cmd := &cobra.Command{
		Use:   "pool -o FILE",
		Short: "Play PushT keep-out-zone scenarios in the reference simulator (real) and in a world model (imagined) and write the paired pool for 'bench safety --pool'",
		Long: `Without --world-model: the scripted expert in the reference simulator (real)
and in a simulator with wrong pusher gains (a stand-in world model).

With --world-model objects (or another backend): the zoo arm --arm runs closed
loop in the reference simulator and, from the same real first frame, inside
the learned world model, judged from its predicted frames; the features come
from the model's predicted pusher positions against the zone (see
evaluator/validation/wmpool). --stats FILE writes the build's statistics
(timing, agreement, the real episodes' first violating steps).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("-o is required")
			}
			ctx := cmd.Context()
			start := time.Now()
			if backend != "" {
				mf := modelFlags{backend: backend, opts: mopts}
				src := wmpool.Sources{Backend: backend, ModelDraws: wmDraws, FirstDrawSeed: wmDrawSeed, DrawNoise: wmNoise,
					Judge: jf.name, Arm: arm, ArmDraws: draws}
				var err error
				if src.Options, err = mf.options(); err != nil {
					return err
				}
				if src.JudgeOptions, err = jf.options(); err != nil {
					return err
				}
				if err := src.Open(ctx, &wm); err != nil {
					return err
				}
			}
			report, finish := progress.Bar(nil, "episodes")
			var (
				pool validation.Pool
				err  error
			)
			if backend == "" {
				cfg.Progress = report
				pool, err = simpool.Build(ctx, cfg)
			} else {
				wm.N, wm.FirstSeed = cfg.N, cfg.FirstSeed
				wm.Progress = report
				// Every finished batch is saved, so a stopped build keeps them.
				wm.Batched = wmpool.SaveBatch(out, stats)
				var st wmpool.Stats
				pool, st, err = wmpool.Build(ctx, wm)
				slog.Info("sides", "real_seconds", st.RealSeconds, "imagined_seconds", st.ImaginedSeconds,
					"real_violations", st.RealViolations, "predicted_violations", st.PredictedViolations, "confusion", st.Confusion)
			}
			finish()
			if len(pool.Records) == 0 {
				return err
			}
			// A pool too small for the harness is still worth keeping.
			if err := errors.Join(err, pool.Save(out)); err != nil {
				return err
			}
			slog.Info("pool written", "file", out, "records", len(pool.Records), "violation_rate", pool.Truth(), "seconds", time.Since(start).Seconds())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVarP(&cfg.N, "n", "n", 1000, "initial conditions (two episodes each)")
	f.Int64Var(&cfg.FirstSeed, "first-seed", 0, "first scenario seed")
	f.IntVar(&cfg.Workers, "workers", 1, "parallel episodes (stand-in only)")
	f.Float64Var(&cfg.Model.Kp, "model-kp", 60, "stand-in world model: pusher position gain (reference 100)")
	f.Float64Var(&cfg.Model.Kv, "model-kv", 30, "stand-in world model: pusher velocity gain (reference 20)")
	f.StringVar(&backend, "world-model", "", "world-model backend for the imagined side (e.g. objects; default: the stand-in simulator)")
	f.StringArrayVar(&mopts, "opt", nil, "world-model option key=value (repeatable); objects defaults to checkpoint="+defaultObjectsCheckpoint)
	f.StringVar(&arm, "arm", "scripted-q3", "zoo arm played on both sides (with --world-model)")
	f.StringVar(&jf.name, "judge", judge.PushTName, "judge of the imagined frames: "+strings.Join(judge.Names(), ", "))
	f.StringArrayVar(&jf.opts, "judge-opt", nil, "judge option key=value (repeatable)")
	f.IntVar(&wm.Horizon, "horizon", 0, "step limit of every episode on both sides (with --world-model; 0: 300)")
	f.IntVar(&wm.Execute, "execute", 0, "actions executed per chunk on both sides (with --world-model; 0: the policy's preference, else half the chunk)")
	f.IntVar(&wm.Batch, "batch", 200, "initial conditions run together (with --world-model)")
	f.IntVar(&draws, "draws", 0, "extra imagined episodes per initial condition, the arm with random seeds 1..K (with --world-model; adds the ens_* features)")
	f.IntVar(&wmDraws, "wm-draws", 0, "extra imagined episodes per initial condition, in perturbed draws of the world model with options noise=--wm-noise and seed=S..S+K-1 (S: --wm-draw-seed; objects backend; adds the ens_* features)")
	f.IntVar(&wmDrawSeed, "wm-draw-seed", 1, "seed of the first perturbed world-model draw (--wm-draws): builds with disjoint seeds can be joined into a larger ensemble (dreamrank safety join)")
	f.Float64Var(&wmNoise, "wm-noise", job.DefaultDrawNoise, "relative noise of the perturbed world-model draws (--wm-draws): each predicted block motion scaled by 1 + noise·N(0,1); 0.3 makes the objects model's draws spread about as far as its own error at 32 steps")
	f.StringVar(&stats, "stats", "", "write the build's statistics as JSON (with --world-model)")
	f.StringVarP(&out, "out", "o", "", "pool JSON to write")
	return cmd
}
