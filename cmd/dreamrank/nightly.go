package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/ops/deploy"
	"dreamrank/ops/nightly"
	"dreamrank/ops/report"
	"dreamrank/ops/schedule"
	"dreamrank/worldmodel/objects"
)

// registerNightly registers the flags of the nightly re-ranking, with
// those of its schedule where nights run on their own (serve).
func registerNightly(cmd *cobra.Command, n *deploy.Nightly, withSchedule bool) {
	fl := cmd.Flags()
	if withSchedule {
		fl.StringVar(&n.Cron, "nightly", schedule.DefaultSpec, "cron expression of the nightly re-ranking (UTC; \"\" disables)")
		fl.BoolVar(&n.FirstRun, "nightly-first-run", true, "when no night ever ran, run one at start (a first report within minutes)")
	}
	fl.IntVar(&n.Config.Episodes, "nightly-episodes", 10, "imagined episodes per zoo arm each night")
	fl.IntVar(&n.Config.RealBudget, "nightly-real", 10, "of those, real episodes per arm played by the fleet (the simulator when no robots), paired, for the agreement section (-1: none)")
	fl.IntVar(&n.Config.Previews, "nightly-previews", 4, "imagined-beside-real previews per report, failures first")
	fl.IntVar(&n.Config.Safety, "nightly-safety", 12, "imagined keep-out-zone episodes per arm for the safety section (-1: none)")
	fl.IntVar(&n.Config.SafetyReal, "nightly-safety-real", 6, "of those, real episodes per arm")
	fl.IntVar(&n.Config.SafetyHorizon, "nightly-safety-horizon", 120, "steps per keep-out-zone episode")
	fl.StringVar(&n.Backend, "nightly-backend", objects.Name, "world-model backend the arms are imagined in")
	fl.StringVar(&n.Checkpoint, "nightly-checkpoint", defaultObjectsCheckpoint, "its checkpoint")
	fl.StringVar(&n.Fidelity, "nightly-fidelity", "", "`wm eval --json` report of that checkpoint, shown in the report's world-model section (results/wm_eval_objects.json is the committed checkpoint's)")
}

func reportNightlyCmd() *cobra.Command {
	var (
		bf  busFlags
		nf  deploy.Nightly
		now bool
	)
	cmd := &cobra.Command{
		Use:   "nightly --now",
		Short: "Run the nightly re-ranking now against a running server: every zoo arm imagined, paired real episodes, the report stored and announced",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !now {
				return fmt.Errorf("the server runs nights on its schedule (dreamrank serve --nightly); --now runs one here and now")
			}
			ctx := cmd.Context()
			nc, res, err := bf.queue(ctx, "dreamrank report nightly")
			if err != nil {
				return err
			}
			defer nc.Close()
			r, err := nightly.Run(ctx, nf.RunConfig(), nf.Deps(nc, res), nightly.RunID(time.Now(), true))
			if err != nil {
				return err
			}
			md, err := report.Markdown(r)
			if err != nil {
				return err
			}
			fmt.Print(string(md))
			return nil
		},
	}
	bf.registerClient(cmd)
	registerNightly(cmd, &nf, false)
	cmd.Flags().BoolVar(&now, "now", false, "run now")
	return cmd
}
