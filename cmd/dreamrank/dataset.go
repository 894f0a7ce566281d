package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/video"
	"dreamrank/scenarios"
)

func datasetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Import outside datasets into the episode store"}
	cmd.AddCommand(datasetImportCmd())
	return cmd
}

func datasetImportCmd() *cobra.Command {
	var (
		data      string
		withVideo bool
		limit     int
	)
	cmd := &cobra.Command{
		Use:   "import [ZARR_DIR]",
		Short: "Import a Diffusion-Policy zarr replay buffer (default: the shared PushT human demonstrations)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := scenarios.PushTDataset()
			if len(args) == 1 {
				path = args[0]
			}
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			opts := episode.ImportOptions{Limit: limit}
			if withVideo {
				opts.Video = video.UpscaledWriter(4)
			}
			bar, finish := progress.Bar(os.Stderr, "importing")
			rep, err := episode.ImportReplayBuffer(cmd.Context(), store, path, opts, bar)
			finish()
			if err != nil {
				return err
			}
			fmt.Printf("%s: %d episodes, %d imported, %d already present, %d steps, %s\n",
				rep.Source, rep.Episodes, rep.Imported, rep.Skipped, rep.Steps, rep.Duration.Round(1e6))
			if rep.NonIntegralPixels > 0 || rep.ClampedPixels > 0 {
				fmt.Printf("warning: %d pixel values rounded, %d clamped to 0..255\n", rep.NonIntegralPixels, rep.ClampedPixels)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().BoolVar(&withVideo, "video", false, "also write video.mp4 for each episode (slower)")
	cmd.Flags().IntVar(&limit, "limit", 0, "import only the first N episodes (0: all)")
	return cmd
}
