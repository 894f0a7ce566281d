package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/ops/deploy"
	"dreamrank/ops/nightly"
	"dreamrank/ops/report"
)

func reportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Nightly ranking reports: HTML, Markdown and JSON (schema: ops/report/SCHEMA.md)"}
	cmd.AddCommand(reportRenderCmd(), reportNightlyCmd())
	return cmd
}

func reportRenderCmd() *cobra.Command {
	var input, out string
	cmd := &cobra.Command{
		Use:   "render --input FILE.json [--out DIR]",
		Short: "Render a report from an input snapshot (ranking, safety, agreement, previous report, previews; see ops/report/SCHEMA.md) without the server: DIR/report.html (self-contained), report.md, report.json, plots/*.svg, previews/*",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var data []byte
			var err error
			if input == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(input)
			}
			if err != nil {
				return err
			}
			var in report.Input
			if err := json.Unmarshal(data, &in); err != nil {
				return fmt.Errorf("--input %s: %w", input, err)
			}
			r, err := report.Build(in)
			if err != nil {
				return err
			}
			names, err := report.WriteDir(out, r)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d files to %s: open %s/report.html\n", len(names), out, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&input, "input", "", "input JSON file (report.Input; - for stdin) [required]")
	cmd.Flags().StringVar(&out, "out", "report", "output directory")
	cmd.MarkFlagRequired("input")
	return cmd
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
			r, err := nightly.Run(ctx, nf.RunConfig(), nf.Deps(nc, res, nf.Keeper(res, true)), nightly.RunID(time.Now(), true))
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
