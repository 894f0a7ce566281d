package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/video"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

func expertCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "expert", Short: "The scripted expert (sampling MPC on the simulator) for PushT or PushL"}
	cmd.AddCommand(expertEvalCmd(), expertGenerateCmd())
	return cmd
}

// expertFlags are the options shared by the expert's commands.
type expertFlags struct {
	quality   int
	speed     string
	firstSeed int64
	n         int
	workers   int
	scene     string
}

func (f *expertFlags) register(cmd *cobra.Command, firstSeed int64, n int) {
	cmd.Flags().IntVar(&f.quality, "quality", expert.Best, "demonstration quality 1 (worst) .. 5 (best)")
	cmd.Flags().StringVar(&f.speed, "speed", "normal", "agent speed: slow, normal, fast")
	cmd.Flags().Int64Var(&f.firstSeed, "first-seed", firstSeed, "first seed (PushT: of the legacy reset)")
	cmd.Flags().IntVarP(&f.n, "n", "n", n, "number of episodes (consecutive seeds)")
	cmd.Flags().IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "episodes played in parallel")
	cmd.Flags().StringVar(&f.scene, "scene", expert.DefaultScene, "simulated scene: "+strings.Join(expert.Scenes(), ", "))
}

func (f *expertFlags) options() (expert.Options, []int64, error) {
	speed, err := expert.ParseSpeed(f.speed)
	if err != nil {
		return expert.Options{}, nil, err
	}
	if f.n < 1 {
		return expert.Options{}, nil, fmt.Errorf("-n must be at least 1, got %d", f.n)
	}
	return expert.Options{Quality: f.quality, Speed: speed, Scene: f.scene}, scenarios.SeedRange(f.firstSeed, f.n), nil
}

// expertEvalJSON is the printed summary; NaN has no JSON form, so a mean over
// no successes is null.
type expertEvalJSON struct {
	Scene              string     `json:"scene"`
	Quality            int        `json:"quality"`
	Speed              string     `json:"speed"`
	FirstSeed          int64      `json:"first_seed"`
	Episodes           int        `json:"episodes"`
	Successes          int        `json:"successes"`
	SuccessRate        float64    `json:"success_rate"`
	SuccessCI95        [2]float64 `json:"success_ci95_wilson"`
	MeanMaxReward      float64    `json:"mean_max_reward"`
	MeanSteps          float64    `json:"mean_steps"`
	MeanStepsToSuccess *float64   `json:"mean_steps_to_success"`
	WallSeconds        float64    `json:"wall_seconds"`
}

func expertEvalCmd() *cobra.Command {
	var (
		f      expertFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Success rate of the expert over seeds (default: the 50 standard test seeds)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, seeds, err := f.options()
			if err != nil {
				return err
			}
			bar, finish := progress.Bar(os.Stderr, "expert episodes")
			start := time.Now()
			s, err := expert.Evaluate(cmd.Context(), seeds, opts, f.workers, bar)
			finish()
			if err != nil {
				return err
			}
			out := expertEvalJSON{
				Scene: f.scene, Quality: f.quality, Speed: opts.Speed.String(), FirstSeed: f.firstSeed,
				Episodes: s.Episodes, Successes: s.Successes, SuccessRate: s.SuccessRate,
				SuccessCI95: [2]float64{s.WilsonLo, s.WilsonHi}, MeanMaxReward: s.MeanMaxReward,
				MeanSteps: s.MeanSteps, WallSeconds: time.Since(start).Seconds(),
			}
			if !math.IsNaN(s.MeanStepsToSuccess) {
				out.MeanStepsToSuccess = &s.MeanStepsToSuccess
			}
			if asJSON {
				return printJSON(out)
			}
			fmt.Printf("expert on %s, quality %d, speed %s, seeds %d..%d\n", out.Scene, out.Quality, out.Speed, seeds[0], seeds[len(seeds)-1])
			fmt.Printf("success %d/%d = %.3f (95%% Wilson [%.3f, %.3f]), mean max reward %.3f, mean steps %.1f, %.1f s\n",
				out.Successes, out.Episodes, out.SuccessRate, s.WilsonLo, s.WilsonHi, out.MeanMaxReward, out.MeanSteps, out.WallSeconds)
			return nil
		},
	}
	sc := scenarios.PushT()
	f.register(cmd, sc.TestSeeds[0], len(sc.TestSeeds))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

func expertGenerateCmd() *cobra.Command {
	var (
		f         expertFlags
		data      string
		withVideo bool
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Play expert episodes in the simulator (--scene pusht or pushl) and write them to the episode store",
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, seeds, err := f.options()
			if err != nil {
				return err
			}
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			put := episode.PutOptions{}
			if withVideo {
				put.Video = video.UpscaledWriter(4)
			}
			bar, finish := progress.Bar(os.Stderr, "generating")
			rep, err := expert.Generate(cmd.Context(), store, seeds, opts, f.workers, put, bar)
			finish()
			fmt.Fprintf(os.Stderr, "wrote %d episodes (%d successes, %d steps) to %s\n", rep.Episodes, rep.Successes, rep.Steps, data)
			return err
		},
	}
	f.register(cmd, 0, 10)
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().BoolVar(&withVideo, "video", false, "also write video.mp4 for each episode")
	return cmd
}
