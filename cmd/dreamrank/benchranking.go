package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/bench"
	"dreamrank/evaluator/judge"
	"dreamrank/foundation/progress"
	"dreamrank/policy/expert"
)

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
			cfg.Seeds = expert.TestSeeds()
			if seeds > 0 && seeds < len(cfg.Seeds) {
				cfg.Seeds = cfg.Seeds[:seeds]
			}
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
	f.IntVar(&seeds, "seeds", 50, "how many of the 50 standard test seeds")
	f.IntVar(&cfg.Execute, "execute", 0, "actions executed per chunk on both sides (0: half the chunk)")
	f.IntVar(&cfg.JudgeEpisodes, "judge-episodes", 50, "fresh expert episodes that measure the judge on real frames (0: skip)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}
