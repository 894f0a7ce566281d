package main

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/validation"
	"dreamrank/evaluator/validation/simpool"
	"dreamrank/ops/progress"
)

func safetyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "safety", Short: "Keep-out-zone safety scenarios and their validation pools"}
	cmd.AddCommand(safetyPoolCmd())
	return cmd
}

func safetyPoolCmd() *cobra.Command {
	var (
		cfg simpool.Config
		out string
	)
	cmd := &cobra.Command{
		Use:   "pool -o FILE",
		Short: "Play the scripted expert on PushT keep-out-zone scenarios in the reference simulator (real) and a dynamics-mismatched one (stand-in world model) and write the paired pool for 'bench safety --pool'",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fmt.Errorf("-o is required")
			}
			start := time.Now()
			report, finish := progress.Bar(nil, "pairs")
			cfg.Progress = report
			pool, err := simpool.Build(cmd.Context(), cfg)
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
	f.IntVarP(&cfg.N, "n", "n", 1000, "initial conditions (two expert episodes each)")
	f.Int64Var(&cfg.FirstSeed, "first-seed", 0, "first scenario seed")
	f.IntVar(&cfg.Workers, "workers", 1, "parallel episodes")
	f.Float64Var(&cfg.Model.Kp, "model-kp", 60, "stand-in world model: pusher position gain (reference 100)")
	f.Float64Var(&cfg.Model.Kv, "model-kv", 30, "stand-in world model: pusher velocity gain (reference 20)")
	f.StringVarP(&out, "out", "o", "", "pool JSON to write")
	return cmd
}

func benchSafetyCmd() *cobra.Command {
	var (
		poolPath string
		savePool string
		cfg      validation.Config
		synth    validation.SyntheticConfig
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "safety",
		Short: "Coverage, interval width and variance reduction of the safety estimators over repeated experiments on a pool of paired (world-model, real) outcomes",
		Long: `Runs --experiments repeated experiments per real budget, each drawing real
episodes and imagined ones from a pool of paired outcomes whose mean is the
truth, and reports per estimator and budget the coverage of the nominal 95%
interval, the mean width, and the variance reduction and effective real-episode
multiplier against real-only at the same budget. Without --pool the pool is
the synthetic PushT keep-out-zone pool (validation.Synthetic).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pool validation.Pool
			if poolPath != "" {
				p, err := validation.Load(poolPath)
				if err != nil {
					return err
				}
				pool = p
			} else {
				pool = validation.Synthetic(synth)
			}
			if savePool != "" {
				if err := pool.Save(savePool); err != nil {
					return fmt.Errorf("save pool: %w", err)
				}
			}
			start := time.Now()
			rep, err := validation.Run(cmd.Context(), pool, cfg)
			if err != nil {
				return err
			}
			validation.SortRows(rep.Rows)
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("pool %s: %d records, truth %.4f, %d strata; %d experiments per budget (%.1fs)\n",
				rep.Pool, rep.PoolSize, rep.Truth, rep.Strata, rep.Experiments, time.Since(start).Seconds())
			fmt.Printf("%-22s %6s %9s %10s %10s %11s %8s %8s %9s\n", "estimator", "budget", "coverage", "mean_width", "var_reduc", "multiplier", "± MC se", "ceiling", "bias")
			for _, r := range rep.Rows {
				fmt.Printf("%-22s %6d %9.3f %10.4f %10.3f %11.2f %8.2f %8.2f %9.4f\n", r.Estimator, r.Budget, r.Coverage, r.MeanWidth,
					r.VarianceReduction, r.EffectiveRealMultiplier, r.MultiplierSE, r.CeilingMultiplier, r.Bias)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&poolPath, "pool", "", "JSON pool of paired outcomes (validation.Pool); default: the synthetic PushT safety pool")
	f.StringVar(&savePool, "save-pool", "", "write the pool used to this JSON file")
	f.IntVar(&cfg.Experiments, "experiments", 500, "repeated experiments per budget")
	f.IntSliceVar(&cfg.Budgets, "budgets", []int{20, 50, 100}, "real episodes per arm")
	f.IntVar(&cfg.Imagined, "imagined", 1000, "imagined episodes per experiment")
	f.IntVar(&cfg.BootstrapReps, "bootstrap", 1000, "bootstrap resamples for intervals below 30 real episodes")
	f.IntVar(&cfg.Rounds, "rounds", 2, "adaptive allocation rounds of the stratified estimator (1: proportional to the stratum weights)")
	f.Uint64Var(&cfg.Seed, "seed", 1, "seed of the experiments")
	def := validation.DefaultSynthetic()
	f.IntVar(&synth.N, "synthetic-n", def.N, "records in the synthetic pool")
	f.Uint64Var(&synth.Seed, "synthetic-seed", def.Seed, "seed of the synthetic pool")
	f.Float64Var(&synth.WMBiasPx, "wm-bias-px", def.WMBiasPx, "synthetic pool: world-model optimism about clearance (px)")
	f.Float64Var(&synth.WMNoisePx, "wm-noise-px", def.WMNoisePx, "synthetic pool: world-model clearance error (px, at no rotation)")
	f.Float64Var(&synth.WMLostRate, "wm-lost-rate", def.WMLostRate, "synthetic pool: fraction of episodes the world model gets wrong altogether")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
