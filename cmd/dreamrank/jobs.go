package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/estimate"
	"dreamrank/foundation/progress"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
)

// maxSpecFile is the largest spec file the CLI reads; the server's own
// limit is lower and gives the precise error.
const maxSpecFile = 1 << 20

func submitCmd() *cobra.Command {
	var (
		bf     busFlags
		key    string
		watch  bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "submit JOB.yaml",
		Short: "Submit an evaluation job (YAML or JSON spec; see examples/) and optionally watch it to the end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			spec, err := readSpec(args[0])
			if err != nil {
				return err
			}
			c, closeNC, err := bf.client(ctx, "dreamrank submit")
			if err != nil {
				return err
			}
			defer closeNC()
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			rep, err := c.Submit(rctx, spec, key)
			cancel()
			if err != nil {
				return err
			}
			if rep.Existing {
				fmt.Fprintf(os.Stderr, "idempotency key matched job %s, submitted earlier\n", rep.ID)
			}
			if !watch {
				if asJSON {
					return printJSON(rep)
				}
				fmt.Printf("job %s %s: %d tasks (dreamrank status %s)\n", rep.ID, rep.State, rep.Tasks, rep.ID)
				return nil
			}
			fmt.Fprintf(os.Stderr, "job %s: %d tasks\n", rep.ID, rep.Tasks)
			st, err := watchJob(ctx, c, rep.ID)
			if err != nil {
				return err
			}
			return printStatus(st, asJSON)
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().StringVar(&key, "key", "", "idempotency key: resubmitting with it returns the same job")
	cmd.Flags().BoolVar(&watch, "watch", false, "show progress until the job ends, then print its ranking")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// readSpec reads and parses a spec file, refusing absurd sizes unread.
func readSpec(path string) (job.Spec, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return job.Spec{}, err
	}
	if fi.Size() > maxSpecFile {
		return job.Spec{}, fmt.Errorf("%s: %w: %d bytes, limit %d", path, job.ErrTooLarge, fi.Size(), maxSpecFile)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return job.Spec{}, err
	}
	s, err := job.Parse(raw, maxSpecFile)
	if err != nil {
		return job.Spec{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// watchJob polls a job until it ends, drawing progress with counts and ETA.
func watchJob(ctx context.Context, c jobapi.Client, id string) (job.Status, error) {
	bar, finish := progress.Bar(os.Stderr, "job "+id[:8])
	defer finish()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	reason := ""
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		st, err := c.Status(rctx, id)
		cancel()
		if err != nil && ctx.Err() == nil {
			fmt.Fprintln(os.Stderr, "status:", err, "(retrying)")
		}
		if err == nil {
			if st.Reason != reason && st.Reason != "" && !st.State.Final() {
				fmt.Fprintf(os.Stderr, "\njob %s: %s\n", id[:8], st.Reason) // the real phase's rounds, say
			}
			reason = st.Reason
			bar(st.Done, st.Tasks)
			if st.State.Final() {
				return st, nil
			}
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("stopped watching job %s (it keeps running): %w", id, ctx.Err())
		case <-tick.C:
		}
	}
}

func printStatus(st job.Status, asJSON bool) error {
	if asJSON {
		return printJSON(st)
	}
	fmt.Printf("job %s %s", st.ID, st.State)
	if st.Name != "" {
		fmt.Printf(" (%s)", st.Name)
	}
	fmt.Printf(": %d/%d tasks done, %d failed, %d episodes", st.Done, st.Tasks, st.Failed, st.Episodes)
	if st.Reason != "" {
		fmt.Printf("; %s", st.Reason)
	}
	if st.ETASeconds > 0 {
		fmt.Printf("; about %s left", time.Duration(st.ETASeconds*float64(time.Second)).Round(time.Second))
	}
	fmt.Println()
	if st.Result == nil {
		return nil
	}
	for _, sc := range st.Result.Scenarios {
		fmt.Printf("\nscenario %s\n%-4s %-24s %-9s %-18s %-12s %s\n", sc.Scenario, "rank", "arm", "episodes", "success [95% CI]", "rank range", "mean max reward")
		for _, i := range sc.Ranking.Order {
			a := sc.Ranking.Arms[i]
			fmt.Printf("%-4d %-24s %-9d %.2f [%.2f, %.2f]   %-12s %.3f\n", a.Rank, a.Name, a.Episodes,
				a.SuccessRate, a.SuccessCI.Lo, a.SuccessCI.Hi, fmt.Sprintf("%d-%d", a.RankLo, a.RankHi), float64(a.MeanMaxReward))
		}
	}
	for _, sc := range st.Result.Scenarios {
		printCalibration(sc)
	}
	if n := len(st.Result.Artifacts); n > 0 {
		fmt.Printf("\n%d rollout videos in the object store, e.g. dreamrank artifact get %s\n", n, st.Result.Artifacts[0])
	}
	for _, f := range st.Result.FailedTasks {
		fmt.Printf("failed task %d (%s) after %d attempts: %s: %s\n", f.Task, f.Arm, f.Attempts, f.Code, f.Message)
	}
	return nil
}

// printCalibration shows what a job's real budget bought.
func printCalibration(sc job.ScenarioResult) {
	c := sc.Calibration
	if c == nil {
		return
	}
	fmt.Printf("\nreal episodes on %s: %s rate from real episodes alone, with every imagined one as control variate, stratified, and two-phase (95%%)\n", sc.Scenario, c.Event)
	fmt.Printf("%-24s %-6s %-9s %-22s %-22s %-22s %s\n", "arm", "real", "imagined", "real only", "control variate", "stratified", "two-phase")
	ci := func(r estimate.Result) string { return fmt.Sprintf("%.3f [%.3f, %.3f]", r.Estimate, r.Lo, r.Hi) }
	opt := func(r *estimate.Result) string {
		if r == nil {
			return "-"
		}
		return ci(*r)
	}
	for _, e := range c.Estimates {
		fmt.Printf("%-24s %-6d %-9d %-22s %-22s %-22s %s\n", e.Arm, e.RealBudget, e.Imagined, ci(e.RealOnly), ci(e.ControlVariate), opt(e.Stratified), opt(e.TwoPhase))
	}
	for _, e := range c.Estimates {
		if d := e.Design; d != nil {
			fmt.Printf("%s: two-phase design, %d strata of %d imagined seeds, rounds of %v real episodes; real only and control variate on the first round's share of %d\n",
				e.Arm, d.Strata, d.Imagined, roundSizes(d.Rounds), len(d.Share))
		}
		if e.Draws > 0 {
			how := ""
			if e.Design != nil && e.Design.Prior {
				how = "; the design ranked and allocated seeds by their violation fraction"
			}
			fmt.Printf("%s: features from %d imagined rollouts per seed (the world model and %d perturbed draws)%s\n", e.Arm, 1+e.Draws, e.Draws, how)
		}
	}
	if a := c.Agreement; a != nil {
		fmt.Printf("imagined vs real over %d arms: pearson %.2f [%.2f, %.2f], mmrv %.3f\n", a.Arms,
			float64(a.Pearson), float64(a.PearsonCI.Lo), float64(a.PearsonCI.Hi), float64(a.MMRV))
	}
	for _, n := range c.Notes {
		fmt.Println("note:", n)
	}
}

func roundSizes(rounds [][]int64) []int {
	out := make([]int, len(rounds))
	for i, r := range rounds {
		out[i] = len(r)
	}
	return out
}

func statusCmd() *cobra.Command {
	var (
		bf     busFlags
		asJSON bool
		watch  bool
	)
	cmd := &cobra.Command{
		Use:   "status JOB_ID",
		Short: "Show a job's state, progress and, once done, its ranking",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeNC, err := bf.client(cmd.Context(), "dreamrank status")
			if err != nil {
				return err
			}
			defer closeNC()
			var st job.Status
			if watch {
				st, err = watchJob(cmd.Context(), c, args[0])
			} else {
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				st, err = c.Status(ctx, args[0])
				cancel()
			}
			if err != nil {
				return err
			}
			return printStatus(st, asJSON)
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&watch, "watch", false, "show progress until the job ends")
	return cmd
}

func jobsCmd() *cobra.Command {
	var (
		bf     busFlags
		req    jobapi.ListRequest
		state  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List evaluation jobs, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, closeNC, err := bf.client(cmd.Context(), "dreamrank jobs")
			if err != nil {
				return err
			}
			defer closeNC()
			req.State = job.State(state)
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			rep, err := c.List(ctx, req)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(rep)
			}
			fmt.Printf("%-36s %-10s %-8s %-9s %-20s %-12s %s\n", "id", "state", "priority", "tasks", "created", "owner", "name")
			for _, j := range rep.Jobs {
				fmt.Printf("%-36s %-10s %-8s %4d/%-4d %-20s %-12s %s\n", j.ID, j.State, j.Priority, j.Done, j.Tasks,
					j.Created.Local().Format("2006-01-02 15:04:05"), cmp.Or(j.Owner, "-"), j.Name)
			}
			if rep.Total > len(rep.Jobs) {
				fmt.Printf("(%d of %d shown; --limit shows more)\n", len(rep.Jobs), rep.Total)
			}
			if rep.Quota != nil {
				fmt.Println()
				printQuota(*rep.Quota)
			}
			if len(rep.Quotas) > 0 {
				fmt.Println()
			}
			for _, q := range rep.Quotas {
				printQuota(q)
			}
			return nil
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().StringVar(&state, "state", "", "only jobs in this state (queued, running, succeeded, failed, canceled, expired)")
	cmd.Flags().IntVar(&req.Limit, "limit", 50, "jobs to show")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func cancelCmd() *cobra.Command {
	var (
		bf     busFlags
		reason string
	)
	cmd := &cobra.Command{
		Use:   "cancel JOB_ID",
		Short: "Cancel a job: its queued tasks are removed and it is marked canceled",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, closeNC, err := bf.client(cmd.Context(), "dreamrank cancel")
			if err != nil {
				return err
			}
			defer closeNC()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, err := c.Cancel(ctx, args[0], reason)
			if err != nil {
				return err
			}
			return printStatus(st, false)
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the job")
	return cmd
}

// printQuota shows a submitter's quota use: what is queued and in flight
// against the limits (a submit beyond them is quota_exceeded).
func printQuota(q jobapi.Quota) {
	limit := func(n int) string {
		if n <= 0 {
			return "no limit"
		}
		return fmt.Sprint(n)
	}
	fmt.Printf("quota %s: %d tasks queued or running (limit %s), %d imagined rollouts in flight (limit %s), %d unfinished jobs\n",
		q.User, q.QueuedTasks, limit(q.MaxQueuedTasks), q.Rollouts, limit(q.MaxRollouts), q.ActiveJobs)
}
