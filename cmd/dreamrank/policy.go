package main

import "github.com/spf13/cobra"

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Train, list and evaluate policies"}
	cmd.AddCommand(policyListCmd(), policyEvalCmd(), policyServeCmd(), policyZooEvalCmd())
	return cmd
}
