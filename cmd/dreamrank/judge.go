package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/remote"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

func judgeCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "judge", Short: "Judges: measure them against simulator ground truth, serve them"}
	cmd.AddCommand(judgeEvalCmd(), judgeServeCmd())
	return cmd
}

func judgeEvalCmd() *cobra.Command {
	var (
		data   string
		jf     judgeFlags
		eo     judge.EvalOptions
		asJSON bool
		simN   int
		simQ   []int
		scene  string
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Measure a judge on stored real frames against the simulator's ground truth",
		Long: `Judges every stored episode that has ground truth (the simulator state recorded
beside the frames, scored by the episode's scenario, PushT or PushL; the judge sees
only frames and proprio) and reports, overall and
per source, the success-call accuracy with confusion counts (per frame and per
episode) and the coverage error (MAE, median, p95, max).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
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
			bar, finish := progress.Bar(os.Stderr, "judging")
			eo.Progress, eo.Threshold = bar, pusht.SuccessCoverage
			ev, err := judge.Evaluate(cmd.Context(), j, store, eo)
			finish()
			if err != nil {
				return err
			}
			if simN > 0 {
				var opts []expert.Options
				for _, q := range simQ {
					opts = append(opts, expert.Options{Quality: q, Scene: scene})
				}
				rep, err := judge.EvaluateSimulated(cmd.Context(), j, scenarios.PushT().TestSeeds[0], simN, opts, eo.Batch)
				if err != nil {
					return err
				}
				ev.Simulated = &rep
			}
			if asJSON {
				return printJSON(struct {
					Judge string `json:"judge"`
					judge.Evaluation
				}{jf.name, ev})
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SOURCE\tEPISODES\tFRAMES\tUNREADABLE\tCOV MAE\tCOV P95\tFRAME ACC\tEPISODE ACC\tEPISODE TP/FP/FN/TN\tACC CLEAR OF 0.95±0.01")
			row := func(name string, r judge.Report) {
				c := r.EpisodeSuccess
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%d/%d/%d/%d\t%.4f (%d)\n", name, r.Episodes, r.Frames, r.Unreadable,
					r.CoverageMAE, r.CoverageP95, r.FrameAccuracy, r.EpisodeAccuracy, c.TP, c.FP, c.FN, c.TN,
					r.EpisodeAccuracyClear, r.EpisodeSuccessClear.N())
			}
			sources := make([]string, 0, len(ev.BySource))
			for s := range ev.BySource {
				sources = append(sources, s)
			}
			sort.Strings(sources)
			for _, s := range sources {
				row(s, ev.BySource[s])
			}
			row("all stored", ev.All)
			if ev.Simulated != nil {
				row("simulated", *ev.Simulated)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%.1f s, %.0f frames/s\n", ev.Seconds, ev.FramesPerSecond)
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	jf.register(cmd)
	cmd.Flags().StringVar(&eo.Source, "source", "", "only episodes of this source (e.g. pusht_cchi_v7_replay, sim)")
	cmd.Flags().IntVar(&eo.Limit, "limit", 0, "at most this many episodes per source, oldest first (0: all)")
	cmd.Flags().IntVar(&eo.Batch, "batch", 8, "episodes per judge call")
	cmd.Flags().IntVar(&simN, "simulate", 0, "also judge this many fresh expert episodes on the test seeds from 100000, success frames included")
	cmd.Flags().IntSliceVar(&simQ, "simulate-quality", []int{1, 2, 5}, "expert qualities the simulated episodes cycle through (low ones fail)")
	cmd.Flags().StringVar(&scene, "scene", expert.DefaultScene, "scene of the simulated episodes: "+strings.Join(expert.Scenes(), ", ")+" (stored episodes are scored by their own scenario)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func judgeServeCmd() *cobra.Command {
	var (
		jf   judgeFlags
		bf   busFlags
		name string
		data string
		port int
		opts remote.ServeOptions
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a judge over NATS (protocol: evaluator/judge/remote/PROTOCOL.md)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, closeNC, err := bf.connectOrEmbed(ctx, data, port, "dreamrank judge serve "+name)
			if err != nil {
				return err
			}
			defer closeNC()
			jo, err := jf.options()
			if err != nil {
				return err
			}
			j, err := judge.Open(ctx, jf.name, jo)
			if err != nil {
				return err
			}
			opts.Describe = map[string]string{"judge": jf.name}
			srv, err := remote.Serve(ctx, nc, name, j, opts)
			if err != nil {
				return err
			}
			fmt.Printf("serving judge %q on %s (%s); Ctrl-C stops\n", name, bf.cfg.URL, jf.name)
			<-ctx.Done()
			return srv.Stop()
		},
	}
	jf.register(cmd)
	bf.register(cmd)
	cmd.Flags().StringVar(&name, "name", judge.PushTName, "name the judge is served under (subjects dreamrank.judge.<name>.*)")
	cmd.Flags().StringVar(&data, "data", "data", "data directory (the embedded server's JetStream files)")
	cmd.Flags().IntVar(&port, "port", 4222, "port of the embedded server")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 1, "requests judged at once")
	return cmd
}
