package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/spf13/cobra"
)

// TestWorldModelCommands drives the world-model commands in-process on a
// tiny store: expert episodes in, a two-step training, resume, evaluation.
func TestWorldModelCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	data := t.TempDir()
	out := filepath.Join(data, "wm")
	run := func(cmd *cobra.Command, args ...string) {
		t.Helper()
		cmd.SetArgs(args)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%s %v: %v", cmd.Name(), args, err)
		}
	}
	// Seed 0 is in the held-out split (sim seeds that are multiples of 50).
	run(expertGenerateCmd(), "--data", data, "--first-seed", "0", "-n", "2", "--quality", "2", "--speed", "fast")
	train := []string{"--data", data, "--out", out, "--steps", "2", "--finetune-steps", "1", "--batch", "1", "--checkpoint-every", "1"}
	run(wmTrainCmd(), train...)
	run(wmTrainCmd(), train...) // resumes a finished run: nothing to do
	run(wmEvalCmd(), "--data", data, "--checkpoint", out, "--with-sim", "--max-windows", "2", "--json")
	run(wmEvalCmd(), "--data", data, "--backend", "copylast", "--with-sim", "--max-windows", "1")
}
