package main

import "github.com/spf13/cobra"

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Train, list, evaluate and serve policies"}
	cmd.AddCommand(policyTrainCmd(), policyListCmd(), policyEvalCmd(), policyServeCmd(), policyZooEvalCmd())
	return cmd
}
