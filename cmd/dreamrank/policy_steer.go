package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"dreamrank/foundation/progress"
	"dreamrank/policy/steering"
	"dreamrank/scenarios"
)

func policySteerCmd() *cobra.Command {
	var (
		pf     policyFlags
		tf     trialFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "steer NAME",
		Short: "Does the policy follow its steering context? Paired contrasts of quality, speed, subgoal images and no context",
		Long: `Plays the policy NAME (a zoo arm or a backend with --opt) on the same seeds
under six contexts (policy/steering): quality 5, quality 1, fast, slow, quality
5 with a look-ahead subgoal image (the frame after 16 actions of the scripted
expert in a copy of the episode), and no metadata at all. It prints each
context's success and steps and the paired differences, seed by seed, with
Student-t 95% intervals: q5 - q1 (success should rise), fast - slow (steps
should fall), q5-subgoal - q5, and q5 - unconditioned. The task text is the
arm's, --task, or PushT's instruction.`,
		Example: `  dreamrank policy steer flow --opt checkpoint=checkpoints/pusht-pose/round-06 --seeds 200 --first-seed 300000
  dreamrank policy steer scripted-q5 --seeds 20 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, steer, label, err := pf.open(cmd, args[0])
			if err != nil {
				return err
			}
			defer closePolicy(p)
			tc, err := tf.config(nil)
			if err != nil {
				return err
			}
			task := scenarios.PushT().Instruction
			if steer != nil && steer.Task != "" {
				task = steer.Task
			}
			arms, contrasts := steering.Standard(task)
			cfg := steering.Config{Seeds: tc.Seeds, Arms: arms, Contrasts: contrasts, Execute: tc.Execute, MaxSteps: tc.MaxSteps, Workers: tc.Workers}
			var (
				cur    string
				bar    progress.Func
				finish func()
			)
			cfg.Progress = func(arm string, done, total int) {
				if arm != cur {
					if finish != nil {
						finish()
					}
					bar, finish = progress.Bar(os.Stderr, label+" "+arm)
					cur = arm
				}
				bar(done, total)
			}
			rep, err := steering.Run(cmd.Context(), p, cfg)
			if finish != nil {
				finish()
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Policy    string `json:"policy"`
					Task      string `json:"task"`
					FirstSeed int64  `json:"first_seed"`
					steering.Report
				}{label, task, tf.firstSeed, rep})
			}
			fmt.Print(steerTable(label, tf.firstSeed, rep))
			return nil
		},
	}
	pf.register(cmd)
	tf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (per-seed results included)")
	return cmd
}

// steerTable prints a steering report as two markdown tables.
func steerTable(label string, first int64, rep steering.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on seeds %d.. (paired)\n\n| context | success [Wilson 95%%] | mean steps | mean max reward |\n| --- | --- | --- | --- |\n", label, first)
	for _, a := range rep.Arms {
		fmt.Fprintf(&b, "| %s | %d/%d = %.2f [%.2f, %.2f] | %.1f | %.3f |\n", a.Name, a.Successes, a.Episodes, a.SuccessRate, a.SuccessCI[0], a.SuccessCI[1], a.MeanSteps, a.MeanMaxReward)
	}
	b.WriteString("\n| contrast | seeds | success diff [t 95%] | steps diff [t 95%] | max reward diff [t 95%] |\n| --- | --- | --- | --- | --- |\n")
	d := func(x steering.Diff, f string) string {
		s := fmt.Sprintf(f+" ["+f+", "+f+"]", x.Mean, float64(x.CI.Lo), float64(x.CI.Hi))
		if x.Excludes0() {
			s += " *"
		}
		return s
	}
	for _, c := range rep.Contrasts {
		fmt.Fprintf(&b, "| %s - %s | %d | %s | %s | %s |\n", c.A, c.B, c.Seeds, d(c.Success, "%+.3f"), d(c.Steps, "%+.1f"), d(c.MaxReward, "%+.3f"))
	}
	b.WriteString("\n* the interval excludes 0\n")
	return b.String()
}
