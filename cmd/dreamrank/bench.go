package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/bench"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/torchpeer"
	"dreamrank/ops/loadgen"
	policybench "dreamrank/policy/bench"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
	wmbench "dreamrank/worldmodel/bench"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print JSON"}
	cmd.AddCommand(benchWMCmd(), benchPolicyCmd(), benchRankingCmd(), benchDivergenceCmd(), benchSafetyCmd(), benchDispatchCmd())
	return cmd
}

func benchWMCmd() *cobra.Command {
	var (
		mf     modelFlags
		cfg    wmbench.Config
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "wm",
		Short: "Imagined frames per second by batch size and GFLOP/s against this machine's sgemm peak (measured in the same run)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			rep, err := wmbench.Run(cmd.Context(), m, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("sgemm peak %.1f GFLOP/s (OpenBLAS %s, %d threads); model %.1f MFLOP per imagined step\n",
				rep.SgemmPeakGFLOPS, rep.OpenBLASCore, rep.OpenBLASThreads, rep.FLOPsPerStep/1e6)
			fmt.Printf("%6s %10s %12s %10s\n", "batch", "frames/s", "ms per call", "GFLOP/s")
			for _, b := range rep.Batches {
				fmt.Printf("%6d %10.1f %12.1f %10.2f\n", b.Batch, b.FPS, b.MsPerCall, b.GFLOPS)
			}
			fmt.Printf("best batch %d: %.1f frames/s, %.2f GFLOP/s = %.1f%% of peak\n", rep.BestBatch, rep.FPSBest, rep.GFLOPSBest, rep.PercentOfPeak)
			if b := rep.Baseline; b != nil {
				fmt.Printf("reference implementation (same run): batch 1 %.1f frames/s; best batch %d: %.1f frames/s, %.2f GFLOP/s = %.1f%% of peak; speedup %.1fx at batch 1, %.1fx best\n",
					b.FPSBatch1, b.BestBatch, b.FPSBest, b.GFLOPSBest, b.PercentOfPeak, rep.SpeedupBatch1, rep.SpeedupBest)
			}
			if p := rep.Peer; p != nil {
				fmt.Printf("PyTorch %s peer (%d threads, %s; medians of %d alternating rounds): full step batch 1 %.1f frames/s, best batch %d %.1f frames/s (network alone %.1f, %.1f); Go %.1f, %.1f (best batch %d): Go/torch %.2fx at batch 1, %.2fx best; outputs max |diff| %.2g (tolerance %.0e), frame bytes differing %.2g (tolerance %.0e)\n",
					p.TorchVersion, p.Threads, p.Allocator, p.Rounds, p.FPSBatch1, p.BestBatch, p.FPSBest, p.NetFPSBatch1, p.NetFPSBest,
					p.GoFPSBatch1, p.GoFPSBest, p.GoBestBatch, p.RatioBatch1, p.RatioBest, p.MaxAbsDiff, p.Tolerance, p.FramesDiffFraction, p.FramesTolerance)
			}
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().IntSliceVar(&cfg.Batches, "batches", nil, "batch sizes besides 1 (default 2,4,8,16,32)")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", 0, "timed stepping per batch size (default 2s)")
	cmd.Flags().IntVar(&cfg.Chunk, "chunk", 0, "actions per Step call (default 8)")
	cmd.Flags().IntSliceVar(&cfg.BaselineBatches, "baseline-batches", nil, "batch sizes besides 1 and the best at which the reference implementation (the built-in model's gorgonia graph) is measured (default 2,4,8)")
	cmd.Flags().BoolVar(&cfg.SkipBaseline, "no-baseline", false, "do not measure the reference implementation")
	peerFlags(cmd, &cfg.Peer, &cfg.PeerRounds, &cfg.PeerOptions)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// peerFlags registers the flags of a benchmark's PyTorch peer.
func peerFlags(cmd *cobra.Command, peer *string, rounds *int, opts *torchpeer.Options) {
	f := cmd.Flags()
	f.StringVar(peer, "peer", "", "also run the same model in PyTorch CPU (torch; world models: backends builtin and slots): outputs compared on the same inputs, then Go and the peer timed alternately (needs Debian's python3-torch: `make bench-peer` installs it)")
	f.IntVar(rounds, "peer-rounds", 3, "with --peer: rounds alternating Go and the peer (medians reported)")
	f.StringVar(&opts.Alloc, "peer-alloc", torchpeer.AllocTuned, "with --peer: the peer's allocator: tuned (glibc with MALLOC_* settings), glibc, jemalloc")
	f.StringVar(&opts.Python, "peer-python", "", "with --peer: the Python interpreter (default: the first of $DREAMRANK_TORCH_PYTHON, /usr/bin/python3, python3 that imports torch)")
	f.IntVar(&opts.Threads, "peer-threads", 0, "with --peer: torch threads (default GOMAXPROCS, the Go side's cores)")
}

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
batch sizes 1, 2, 4, ..., 64 (each timed for --duration).

--peer torch also runs a flow policy (pixel or pose front end, with or
without a foresight adapter) in PyTorch CPU: agreement, then alternating
rounds. For the pose arms both sides time the network given the pose
reader's features (the reader is analysis by synthesis in Go, not a
network); Go's whole Act is reported beside.`,
		Example: `  dreamrank bench policy scripted-q5 --json
  dreamrank bench policy pose-relative-r1 --peer torch --json
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
			if p := rep.Peer; p != nil {
				fmt.Printf("PyTorch %s peer (%d threads, %s; medians of %d alternating rounds), timing the %s: batch 1 %.1f chunks/s, best batch %d %.1f chunks/s; Go %.1f, best batch %d %.1f: Go/torch %.2fx at batch 1, %.2fx best; actions max |diff| %.2g\n",
					p.TorchVersion, p.Threads, p.Allocator, p.Rounds, p.Unit, p.ChunksPerSecBatch1, p.BestBatch, p.ChunksPerSecBest,
					p.GoChunksPerSecBatch1, p.GoBestBatch, p.GoChunksPerSecBest, p.RatioBatch1, p.RatioBest, p.MaxAbsDiff)
				if p.GoActChunksPerSecBatch1 > 0 {
					fmt.Printf("Go's whole Act in the same rounds: batch 1 %.1f chunks/s, batch %d %.1f\n", p.GoActChunksPerSecBatch1, rep.BestBatch, p.GoActChunksPerSecBest)
				}
			}
			return nil
		},
	}
	pf.register(cmd)
	cmd.Flags().IntSliceVar(&cfg.Batches, "batches", nil, "batch sizes for throughput (default 1,2,4,8,16,32,64)")
	cmd.Flags().IntVar(&cfg.LatencyCalls, "latency-calls", 0, "timed batch-1 calls (default 30)")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", 0, "timed calling per batch size (default 2s)")
	peerFlags(cmd, &cfg.Peer, &cfg.PeerRounds, &cfg.PeerOptions)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func benchRankingCmd() *cobra.Command {
	var (
		mf     modelFlags
		jf     judgeFlags
		cfg    bench.Config
		seeds  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "ranking",
		Short: "The headline benchmark: every zoo arm in the simulator and in the world model, and how well the rankings agree",
		Long: `Runs every arm of the policy zoo (or --arms) over the standard PushT test
seeds in the simulator (ground truth) and inside the world model (imagined
from each seed's real first frame, judged from predicted frames), then prints
per-arm true and predicted success with Wilson intervals, Pearson with a
bootstrap interval, MMRV, Spearman, Kendall, paired episode agreement, the
judge's accuracy on real frames and the wall time of each side.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := mf.open(cmd.Context())
			if err != nil {
				return err
			}
			opts, err := jf.options()
			if err != nil {
				return err
			}
			j, err := judge.Open(cmd.Context(), jf.name, opts)
			if err != nil {
				return err
			}
			cfg.Judge = map[string]string{"judge": jf.name}
			for k, v := range opts {
				cfg.Judge[k] = v
			}
			if seeds < 1 {
				return fmt.Errorf("--seeds %d: want at least 1", seeds)
			}
			cfg.Seeds = expert.TestSeedsN(seeds)
			cfg.Progress = func(side string) progress.Func {
				bar, _ := progress.Bar(os.Stderr, side)
				return bar
			}
			rep, err := bench.Run(cmd.Context(), cfg, m, j)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("%-22s %-22s %-22s %s\n", "arm", "true success", "predicted success", "unreadable")
			for _, a := range rep.Arms {
				fmt.Printf("%-22s %.2f [%.2f, %.2f]     %.2f [%.2f, %.2f]     %.3f\n", a.Name,
					a.True.SuccessRate, a.True.SuccessCI.Lo, a.True.SuccessCI.Hi,
					a.Predicted.SuccessRate, a.Predicted.SuccessCI.Lo, a.Predicted.SuccessCI.Hi, a.UnreadableFrames)
			}
			fmt.Printf("pearson %.3f [%.3f, %.3f]  mmrv %.3f  spearman %.3f  kendall %.3f  judge accuracy %.3f\n",
				rep.Pearson, rep.PearsonCI.Lo, rep.PearsonCI.Hi, rep.MMRV, rep.Spearman, rep.Kendall, rep.JudgeAccuracy)
			if f := rep.IndependentFloor; f != nil {
				fmt.Printf("independent floor (true rates, episodes independent of the real ones): mmrv %.3f  pearson %.3f\n", f.MMRV, f.Pearson)
			}
			printSeedFloors(rep.SeedFloors)
			fmt.Printf("simulator %.0fs, world model %.0fs, judge %.0fs, wall %.0fs\n", rep.SimSeconds, rep.WMSeconds, rep.JudgeSeconds, rep.WallSeconds)
			return nil
		},
	}
	mf.register(cmd)
	f := cmd.Flags()
	// --opt belongs to the world model here, so judge options get their own flag.
	f.StringVar(&jf.name, "judge", judge.PushTName, "judge: "+strings.Join(judge.Names(), ", "))
	f.StringArrayVar(&jf.opts, "judge-opt", nil, "judge option key=value (repeatable)")
	f.StringSliceVar(&cfg.Arms, "arms", nil, "zoo arms to run (default all)")
	f.IntVar(&seeds, "seeds", 50, "test seeds from 100000 (the standard 50; more continue the series with seeds no training used)")
	f.IntVar(&cfg.Execute, "execute", 0, "actions executed per chunk on both sides (0: the policy's preference, else half the chunk)")
	f.IntVar(&cfg.JudgeEpisodes, "judge-episodes", 50, "fresh expert episodes that measure the judge on real frames (0: skip)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func benchSafetyCmd() *cobra.Command {
	var (
		poolPath string
		savePool string
		features []string
		strata   string
		cfg      validation.Config
		synth    validation.SyntheticConfig
		asJSON   bool
		prior    bool
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
			if strata != "" {
				g, err := scenarios.ParseGrid(strata, pool.CriticalNames)
				if err != nil {
					return fmt.Errorf("--strata: %w", err)
				}
				pool.Strata = g
			}
			if len(features) > 0 {
				p, err := pool.Select(features)
				if err != nil {
					return err
				}
				pool = p
			}
			if risk, err := scenarios.SafetyRisk(pool.FeatureNames); err == nil {
				cfg.Score = risk
			}
			if prior {
				// An ensemble's size is known from its draw seeds; without them only the first rollout counts.
				k := 1
				if slices.Contains(pool.FeatureNames, "ens_violation") && len(pool.DrawSeeds) > 0 {
					k = 1 + len(pool.DrawSeeds)
				}
				chance, err := scenarios.SafetyChance(pool.FeatureNames, k)
				if err != nil {
					return fmt.Errorf("--prior: %w", err)
				}
				cfg.Chance = chance
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
	f.StringVar(&strata, "strata", "", `stratify by these critical variables and cut points instead of the pool's strata, e.g. "zone_path_distance:40,80;init_angle:1.5708"`)
	f.StringSliceVar(&features, "features", nil, "use only these world-model features of the pool, in this order (the first is the control variate's predicted outcome; default: all)")
	f.IntVar(&cfg.Experiments, "experiments", 500, "repeated experiments per budget")
	f.IntSliceVar(&cfg.Budgets, "budgets", []int{20, 50, 100}, "real episodes per arm")
	f.IntVar(&cfg.Imagined, "imagined", 1000, "imagined episodes per experiment")
	f.IntVar(&cfg.BootstrapReps, "bootstrap", 1000, "bootstrap resamples for intervals below 30 real episodes")
	f.IntVar(&cfg.Rounds, "rounds", 2, "adaptive allocation rounds of the stratified and two-phase estimators (1: proportional to the stratum weights)")
	f.BoolVar(&prior, "prior", false, "the two-phase design allocates on the stratum variances the world model predicts (scenarios.SafetyChance: an ensemble's violation fraction when the pool records its draw seeds, else the first rollout)")
	f.IntVar(&cfg.PhaseStrata, "phase-strata", 0, "strata of the two-phase estimator: equal shares of the imagined sample by the world model's risk score (scenarios.SafetyRisk); 0: estimate.TwoPhaseStrata of each budget (one per 3 real episodes, at most 6)")
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

func benchDispatchCmd() *cobra.Command {
	var (
		cfg     loadgen.Config
		withTLS bool
		rounds  int
	)
	cmd := &cobra.Command{
		Use:   "dispatch",
		Short: "Job-server overhead: tasks that do no work through embedded NATS, the work queue and workers (JSON)",
		Long: `Runs one job of --tasks tasks that do no work through the real path
(embedded NATS + JetStream on loopback, job API, work queue, --workers
workers, aggregation) and --jobs one-task jobs timed end to end, next to a
plain NATS request-reply and a JetStream publish measured in the same run.
With --tls it measures all of it twice in one run, without and with TLS on
every connection (a CA made for the run), and prints both and the ratios;
--rounds N alternates the two sides N times each and reports medians.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if withTLS {
				c, err := loadgen.CompareTLS(cmd.Context(), cfg, rounds)
				if err != nil {
					return err
				}
				return printJSON(c)
			}
			rep, err := loadgen.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return printJSON(rep)
		},
	}
	cmd.Flags().IntVar(&cfg.Tasks, "tasks", 2000, "tasks in the throughput job")
	cmd.Flags().IntVar(&cfg.Workers, "workers", 2, "workers")
	cmd.Flags().IntVar(&cfg.Jobs, "jobs", 30, "one-task jobs timed end to end")
	cmd.Flags().BoolVar(&withTLS, "tls", false, "measure without and with TLS in the same run and print both with the overhead ratios")
	cmd.Flags().IntVar(&rounds, "rounds", 3, "with --tls: rounds of both sides, alternating which goes first (medians reported)")
	return cmd
}

func benchDivergenceCmd() *cobra.Command {
	var (
		cfg    bench.DivergenceConfig
		seeds  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "divergence",
		Short: "How far closed-loop outcomes move when the start is read with an error: the ceiling of any world model that starts from a frame",
		Long: `Runs every zoo arm (or --arms) over the standard PushT test seeds in the
simulator from the true start, then again from starts whose block is moved by
Gaussian noise of each --sigmas (table pixels; the angle by sigma/60 rad), and
reports per level the fraction of episodes whose success is unchanged, and
the MMRV and Pearson of the perturbed success rates against the true ones.
A world model whose only error were reading the first frame with that
precision would score no better. The PushT pose reader's own error on the
first frames is reported beside it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if seeds < 1 {
				return fmt.Errorf("--seeds %d: want at least 1", seeds)
			}
			cfg.Seeds = expert.TestSeedsN(seeds)
			cfg.Progress = func(label string) progress.Func {
				bar, _ := progress.Bar(os.Stderr, label)
				return bar
			}
			rep, err := bench.Divergence(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("%d arms x %d seeds; pose reader on the first frames: %.3f px, %.4f rad; independent floor mmrv %.3f\n",
				len(rep.Arms), rep.Seeds, rep.ReaderErrPx, rep.ReaderErrRad, rep.IndependentMMR)
			printSeedFloors(rep.SeedFloors)
			fmt.Printf("%-10s %-7s %-10s %-8s %s\n", "sigma px", "repeat", "agreement", "mmrv", "pearson")
			for _, l := range rep.Levels {
				fmt.Printf("%-10g %-7d %-10.3f %-8.3f %.3f\n", l.SigmaPx, l.Repeat, l.Agreement, l.MMRV, l.Pearson)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&cfg.Arms, "arms", nil, "zoo arms to run (default all)")
	f.Float64SliceVar(&cfg.Sigmas, "sigmas", []float64{0, 0.1, 0.3, 1, 3}, "perturbation levels, table pixels (0 re-runs the true start: a check that the simulator and the arms are deterministic)")
	f.IntVar(&cfg.Repeats, "repeats", 1, "independent perturbations per level (how much a level's MMRV varies)")
	f.IntVar(&seeds, "seeds", 50, "test seeds from 100000 (the standard 50; more continue the series with seeds no training used)")
	f.IntVar(&cfg.Execute, "execute", 0, "actions executed per chunk (0: the policy's preference, else half the chunk)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// printSeedFloors prints the seed floors a ranking or divergence report
// carries.
func printSeedFloors(fs []agreement.SeedFloor) {
	for _, f := range fs {
		fmt.Printf("seed floor at %d seeds: a model right in expectation mmrv %.3f (at most %.3f in %.0f%% of draws), independent episodes %.3f (%.0f%%)\n",
			f.Episodes, f.PerfectMMRV, f.Target, 100*f.PerfectAtMost, f.IndependentMMRV, 100*f.IndependentAtMost)
	}
}
