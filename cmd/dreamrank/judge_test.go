package main

import (
	"context"
	"testing"

	"github.com/spf13/cobra"
)

// TestJudgeEvalCommand measures the PushT judge in-process on two stored
// expert episodes and one simulated one.
func TestJudgeEvalCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("plays expert episodes")
	}
	data := t.TempDir()
	run := func(cmd *cobra.Command, args ...string) error {
		t.Helper()
		cmd.SetArgs(args)
		return cmd.ExecuteContext(context.Background())
	}
	if err := run(judgeEvalCmd(), "--data", data); err == nil {
		t.Error("an empty store measured without error")
	}
	if err := run(expertGenerateCmd(), "--data", data, "--first-seed", "0", "-n", "2", "--speed", "fast"); err != nil {
		t.Fatal(err)
	}
	if err := run(judgeEvalCmd(), "--data", data, "--simulate", "1", "--json"); err != nil {
		t.Fatal(err)
	}
	if err := run(judgeEvalCmd(), "--data", data, "--judge", "no-such-judge"); err == nil {
		t.Error("an unknown judge ran")
	}
}
