package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/lerobot"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/video"
	"dreamrank/scenarios"
)

func datasetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Import outside datasets into the episode store, export it as LeRobot datasets"}
	cmd.AddCommand(datasetImportCmd(), datasetExportCmd())
	return cmd
}

func datasetImportCmd() *cobra.Command {
	var (
		data, format, source, camera string
		withVideo                    bool
		limit                        int
	)
	cmd := &cobra.Command{
		Use:   "import [DIR]",
		Short: "Import a Diffusion-Policy zarr replay buffer or a LeRobot v2.1/v3.0 dataset (default: the shared PushT human demonstrations)",
		Long: "Imports DIR into the episode store. The format is detected: a directory with meta/info.json is a LeRobot\n" +
			"dataset (v2.0, v2.1 or v3.0), anything else a zarr replay buffer. Ids are deterministic, so a re-import\n" +
			"skips what is already there.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := scenarios.PushTDataset()
			if len(args) == 1 {
				path = args[0]
			}
			if format == "" {
				format = "zarr"
				if lerobot.Detect(path) {
					format = "lerobot"
				}
			}
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			var vw episode.VideoWriter
			if withVideo {
				vw = video.UpscaledWriter(4)
			}
			bar, finish := progress.Bar(os.Stderr, "importing")
			switch format {
			case "lerobot":
				rep, err := lerobot.Import(cmd.Context(), store, path, lerobot.ImportOptions{Source: source, Camera: camera, Limit: limit, Video: vw}, bar)
				finish()
				if err != nil {
					return err
				}
				fmt.Printf("%s (LeRobot %s, camera %s): %d episodes, %d imported, %d already present, %d steps, %s\n",
					rep.Source, rep.Version, rep.Camera, rep.Episodes, rep.Imported, rep.Skipped, rep.Steps, rep.Duration.Round(1e6))
				if len(rep.Dropped) > 0 {
					fmt.Printf("note: the store keeps one camera; not imported: %s\n", strings.Join(rep.Dropped, ", "))
				}
			case "zarr":
				rep, err := episode.ImportReplayBuffer(cmd.Context(), store, path, episode.ImportOptions{Source: source, Limit: limit, Video: vw}, bar)
				finish()
				if err != nil {
					return err
				}
				fmt.Printf("%s: %d episodes, %d imported, %d already present, %d steps, %s\n",
					rep.Source, rep.Episodes, rep.Imported, rep.Skipped, rep.Steps, rep.Duration.Round(1e6))
				if rep.NonIntegralPixels > 0 || rep.ClampedPixels > 0 {
					fmt.Printf("warning: %d pixel values rounded, %d clamped to 0..255\n", rep.NonIntegralPixels, rep.ClampedPixels)
				}
			default:
				finish()
				return fmt.Errorf("--format %q: want zarr or lerobot", format)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().StringVar(&format, "format", "", "zarr or lerobot (default: detected from DIR)")
	cmd.Flags().StringVar(&source, "source", "", "source name of the episodes and their ids (default: DIR's name)")
	cmd.Flags().StringVar(&camera, "camera", "", "LeRobot: the camera feature to import as frames (default observation.image, else the first observation.images.*)")
	cmd.Flags().BoolVar(&withVideo, "video", false, "also write video.mp4 for each episode (slower)")
	cmd.Flags().IntVar(&limit, "limit", 0, "import only the first N episodes (0: all)")
	return cmd
}

func datasetExportCmd() *cobra.Command {
	var (
		data, format, version, out string
		opts                       lerobot.ExportOptions
	)
	cmd := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Export episodes of the store as a LeRobot v3.0 or v2.1 dataset",
		Long: "Writes the episodes that match the filters as a LeRobot dataset in --out (h264 videos, parquet frames,\n" +
			"info.json, tasks, episode metadata and statistics). --out must be empty or absent unless --force.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "lerobot" {
				return fmt.Errorf("--format %q: only lerobot is exported", format)
			}
			if out == "" {
				return fmt.Errorf("--out is required")
			}
			v, err := lerobot.ParseVersion(version)
			if err != nil {
				return err
			}
			opts.Version = v
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "exporting")
			rep, err := lerobot.Export(cmd.Context(), store, out, opts, bar)
			finish()
			if err != nil {
				return err
			}
			fmt.Printf("%s: LeRobot %s, %d episodes, %d frames, %d tasks, %d fps, %s video, %.1f MB, %s\n",
				rep.Dir, rep.Version, rep.Episodes, rep.Frames, rep.Tasks, rep.FPS, rep.Codec, float64(rep.Bytes)/1e6, rep.Duration.Round(1e6))
			if rep.Retimed > 0 {
				fmt.Printf("note: %d episodes had timestamps off frame_index/fps; LeRobot's timestamps are frame_index/fps\n", rep.Retimed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().StringVar(&format, "format", "lerobot", "output format (lerobot)")
	cmd.Flags().StringVar(&version, "version", "v3.0", "LeRobot layout: v3.0 or v2.1")
	cmd.Flags().StringVar(&out, "out", "", "output directory (must be empty or absent unless --force)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "replace a non-empty --out")
	cmd.Flags().StringVar(&opts.Filter.Source, "source", "", "only episodes from this source")
	cmd.Flags().StringVar(&opts.Filter.Policy, "policy", "", "only episodes of this policy")
	cmd.Flags().StringVar(&opts.Filter.RobotID, "robot", "", "only episodes of this robot")
	cmd.Flags().StringVar(&opts.Filter.Scenario, "scenario", "", "only episodes of this scenario")
	cmd.Flags().StringSliceVar(&opts.IDs, "id", nil, "only these episode ids (repeatable)")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "export at most N episodes, oldest first (0: all)")
	cmd.Flags().IntVar(&opts.FPS, "fps", 0, "dataset fps (default: the episodes' step rate)")
	cmd.Flags().StringVar(&opts.Codec, "codec", "h264", "video codec: h264 or mpeg4")
	cmd.Flags().StringVar(&opts.RobotType, "robot-type", "", "info.json robot_type")
	return cmd
}
