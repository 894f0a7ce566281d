package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/foundation/video"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/latent"
)

// runCmd is the main job of `make run`. Until the evaluation server exists it
// plays one PushT episode on the simulated robot with the scripted expert and
// writes the episode and its video to the store.
func runCmd() *cobra.Command {
	var (
		data       string
		seed       int64
		checkpoint string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the PushT robot with the scripted expert and store the episode and its video",
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			opts := expert.Options{}
			r, err := expert.Run(cmd.Context(), pusht.New(pusht.Config{}), seed, opts)
			if err != nil {
				return err
			}
			ep, err := r.Episode(opts)
			if err != nil {
				return err
			}
			if err := store.Put(cmd.Context(), ep, episode.PutOptions{Video: video.UpscaledWriter(4)}); err != nil {
				return err
			}
			// The store keeps the robot's 96x96 view; people also get the
			// full-table 512x512 render.
			full, err := r.Frames(pusht.WorldSize)
			if err != nil {
				return err
			}
			fullPath := filepath.Join(data, "videos", ep.ID+"_512.mp4")
			if err := os.MkdirAll(filepath.Dir(fullPath), 0o755); err != nil {
				return err
			}
			if err := video.WriteMP4(fullPath, full, pusht.WorldSize, pusht.WorldSize, scenarios.PushT().ControlHz); err != nil {
				return err
			}
			fmt.Printf("seed %d: success %v after %d steps, max reward %.3f\n", seed, r.Success, r.Steps(), r.MaxReward)
			fmt.Printf("episode       %s\n", store.Dir(ep.ID))
			fmt.Printf("camera video  %s\n", store.VideoPath(ep.ID))
			fmt.Printf("table video   %s\n", fullPath)
			if checkpoint == "" {
				return nil
			}
			if _, err := os.Stat(checkpoint); err != nil {
				slog.Warn("no world model to imagine the episode with; pass --checkpoint", "err", err)
				return nil
			}
			// The same episode imagined by the world model from its first
			// observations under the expert's actions, beside reality.
			dreamPath := filepath.Join(data, "videos", ep.ID+"_imagined.mp4")
			if err := imagineEpisode(cmd.Context(), checkpoint, ep, dreamPath); err != nil {
				return err
			}
			fmt.Printf("imagined      %s (world model left, real right)\n", dreamPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().Int64Var(&seed, "seed", 100000, "legacy-reset seed of the episode")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", defaultCheckpoint, "world model that imagines the episode beside the real one (empty: skip)")
	return cmd
}

// imagineEpisode rolls the built-in world model out over the whole episode
// from its first observations and writes the side-by-side video.
func imagineEpisode(ctx context.Context, checkpoint string, ep *episode.Episode, path string) error {
	m, err := worldmodel.Open(ctx, latent.Name, worldmodel.Options{"checkpoint": checkpoint})
	if err != nil {
		return err
	}
	start := m.Spec().ContextLen - 1
	steps := ep.Steps - 1 - start
	if steps < 1 {
		return nil
	}
	_, err = fidelity.WriteImagined(ctx, m, ep, start, steps, 8, path, scenarios.PushT().ControlHz)
	return err
}
