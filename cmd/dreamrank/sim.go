package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
	"dreamrank/foundation/video"
	"dreamrank/scenarios"
)

func simCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sim", Short: "The PushT physics simulator that stands in for real robots"}
	cmd.AddCommand(simFidelityCmd(), simTargetCmd())
	return cmd
}

func simTargetCmd() *cobra.Command {
	var (
		out  string
		size int
	)
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Write PushL's target alone on the table as a PNG: a reference frame for the overlap judge (--opt reference=FILE)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			frame, err := pushl.RenderTarget(size)
			if err != nil {
				return err
			}
			return video.WritePNG(out, frame, size, size)
		},
	}
	cmd.Flags().StringVar(&out, "out", "pushl_target.png", "PNG file to write")
	cmd.Flags().IntVar(&size, "size", pushl.ObsSize, "frame side in pixels (the episodes' frame size)")
	return cmd
}

func simFidelityCmd() *cobra.Command {
	var (
		dataset string
		asJSON  bool
		stride  int
	)
	cmd := &cobra.Command{
		Use:   "fidelity",
		Short: "Replay the human PushT dataset in the simulator and report how closely it reproduces it",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			start := time.Now()
			d, err := pusht.LoadReplayData(ctx, dataset)
			if err != nil {
				return err
			}
			d.FrameStride = stride
			rep, err := pusht.MeasureFidelity(ctx, d)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("episodes %d, block moved on %d steps, %d frames compared (%s)\n",
				rep.Episodes, rep.StepsBlockMoved, rep.FramesCompared, time.Since(start).Round(time.Millisecond))
			fmt.Printf("agent replay error      median %.4f px   p95 %.4f px\n", rep.AgentReplayMedianPx, rep.AgentReplayP95Px)
			fmt.Printf("one-step block position median %.3f px    p95 %.3f px\n", rep.BlockStepMedianPx, rep.BlockStepP95Px)
			fmt.Printf("one-step block angle    median %.4f rad  p95 %.4f rad\n", rep.BlockStepMedianRad, rep.BlockStepP95Rad)
			fmt.Printf("frame mean abs diff     %.4f (0..255 scale)\n", rep.FrameMAE)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataset, "dataset", scenarios.PushTDataset(), "PushT replay buffer (zarr v2 directory)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().IntVar(&stride, "frame-stride", 1, "compare every n-th frame (1: all)")
	return cmd
}
