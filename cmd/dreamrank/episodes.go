package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"dreamrank/foundation/episode"
)

func episodesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "episodes", Short: "Inspect the episode store"}
	cmd.AddCommand(episodesListCmd())
	return cmd
}

func episodesListCmd() *cobra.Command {
	var (
		data   string
		filter episode.Filter
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List stored episodes",
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			metas, err := store.List(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(metas)
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSOURCE\tSCENARIO\tPOLICY\tSEED\tSTEPS\tSUCCESS\tMAX REWARD")
			for _, m := range metas {
				seed, success, reward, scenario := "-", "-", "-", "-"
				if m.Scenario != "" {
					scenario = m.Scenario
				}
				if m.Seed != nil {
					seed = fmt.Sprint(*m.Seed)
				}
				if m.Outcome != nil {
					success, reward = fmt.Sprint(m.Outcome.Success), fmt.Sprintf("%.3f", m.Outcome.MaxReward)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", m.ID, m.Source, scenario, m.Policy, seed, m.Steps, success, reward)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "%d episodes\n", len(metas))
			return nil
		},
	}
	cmd.Flags().StringVar(&data, "data", "data", "data directory holding the episode store")
	cmd.Flags().StringVar(&filter.Source, "source", "", "only episodes from this source")
	cmd.Flags().StringVar(&filter.Policy, "policy", "", "only episodes of this policy")
	cmd.Flags().StringVar(&filter.Scenario, "scenario", "", "only episodes of this scenario (pusht, pushl, ...)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the metadata as JSON")
	return cmd
}
