package main

import (
	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/slots"
)

func wmTrainSlotsCmd() *cobra.Command {
	cfg := slots.DefaultTrainConfig()
	var data string
	cmd := &cobra.Command{
		Use:   "train-slots",
		Short: "Train the generic world model (backend slots) on the episode store (resumes from --out)",
		Long: `Learns everything from the store's frames, proprioception and actions, for
any camera and robot: the static background and every object's sprite from a
sample of frames (--out/scene.gob), every object's pose in every training
frame by fitting the sprites to it (--out/tracks.gob), the robot's
proprioception head and which objects it moves (least squares), then each
passive object's dynamics network by multi-step unrolls, writing versioned
checkpoints to --out. Held-out episodes follow the split every backend uses,
so wm eval numbers compare.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			ui := newTrainUI(true)
			path, err := slots.Train(cmd.Context(), store, cfg, func(p slots.TrainProgress) {
				if p.Message != "" {
					ui.message(p.Message)
					return
				}
				ui.stepDone(trainStep{p.Step, p.Steps, p.Loss, p.ExamplesPerSec, p.Elapsed}, p.Checkpoint)
			})
			return ui.done(path, err, "trained")
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "checkpoint directory (training resumes from it; the scene and pose caches live there)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "windows per optimizer step")
	f.IntVar(&cfg.Unroll, "unroll", cfg.Unroll, "predicted steps per window (the model's own predictions fed back)")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "Adam learning rate (cosine decay to a tenth)")
	f.Float64Var(&cfg.MovingFrac, "moving-frac", cfg.MovingFrac, "share of windows where a passive object moves")
	f.IntVar(&cfg.Model.Hidden, "hidden", cfg.Model.Hidden, "hidden width of each passive object's network")
	f.IntVar(&cfg.Model.Layers, "layers", cfg.Model.Layers, "hidden layers of each passive object's network")
	f.IntVar(&cfg.Scene.Frames, "scene-frames", cfg.Scene.Frames, "frames the background and sprites are learned from")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (initialisation, batches)")
	f.IntVar(&cfg.MaxEpisodes, "max-episodes", cfg.MaxEpisodes, "training episodes per source (0: all)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Threads, "threads", cfg.Threads, "goroutines reading frames")
	return cmd
}
