package main

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"dreamrank/worldmodel/bench"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "bench", Short: "Benchmarks that print JSON"}
	cmd.AddCommand(benchWMCmd(), benchPolicyCmd(), benchRankingCmd(), benchSafetyCmd(), benchDispatchCmd())
	return cmd
}

func benchWMCmd() *cobra.Command {
	var (
		mf     modelFlags
		cfg    bench.Config
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
			rep, err := bench.Run(cmd.Context(), m, cfg)
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
			return nil
		},
	}
	mf.register(cmd)
	cmd.Flags().IntSliceVar(&cfg.Batches, "batches", nil, "batch sizes besides 1 (default 2,4,8,16,32)")
	cmd.Flags().DurationVar(&cfg.Duration, "duration", 0, "timed stepping per batch size (default 2s)")
	cmd.Flags().IntVar(&cfg.Chunk, "chunk", 0, "actions per Step call (default 8)")
	cmd.Flags().IntSliceVar(&cfg.BaselineBatches, "baseline-batches", nil, "batch sizes besides 1 and the best at which the reference implementation (the built-in model's gorgonia graph) is measured (default 2,4,8)")
	cmd.Flags().BoolVar(&cfg.SkipBaseline, "no-baseline", false, "do not measure the reference implementation")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// metricMap flattens a JSON-tagged struct of numbers into key -> value.
func metricMap(v any) map[string]float64 {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	out := map[string]float64{}
	for k, x := range m {
		if f, ok := x.(float64); ok {
			out[k] = f
		}
	}
	return out
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
