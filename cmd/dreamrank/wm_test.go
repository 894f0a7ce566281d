package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/spf13/cobra"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/policy/expert/experttest"
	"dreamrank/worldmodel/finetune"
	"dreamrank/worldmodel/objects"
	"dreamrank/worldmodel/split"
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
	run(wmEvalCmd(), "--data", data, "--backend", "builtin", "--checkpoint", out, "--with-sim", "--max-windows", "2", "--json")
	run(wmEvalCmd(), "--data", data, "--backend", "copylast", "--with-sim", "--max-windows", "1")
}

// TestWMFineTune drives wm finetune in-process on a tiny store: a parent
// trained by wm train-objects on simulated episodes, then fleet-source
// episodes played in the simulator; the fine-tune continues the parent's
// steps, records the new episode ids and reports fidelity before and after
// on wm eval's held-out set and on the held-out fleet episodes.
func TestWMFineTune(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	data := t.TempDir()
	parent, out := filepath.Join(data, "wm", "parent"), filepath.Join(data, "wm", "ft")
	// Seed 0 is in the held-out split (sim seeds that are multiples of 50).
	execCobra(t, expertGenerateCmd(), "--data", data, "--first-seed", "0", "-n", "3", "--quality", "2", "--speed", "fast")
	execCobra(t, wmTrainObjectsCmd(), "--data", data, "--out", parent, "--steps", "2", "--batch", "4", "--unroll", "4",
		"--hidden", "8", "--layers", "1", "--checkpoint-every", "2")

	// Fleet episodes: the simulator's, stored as the coordinator stores
	// them; ids chosen so that two are held out (FNV-1a of the id % 10).
	store, err := episode.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	train, heldOut := experttest.FleetEpisodes(t, store, []int64{7, 8, 9, 10, 11}, 1, 2, split.IsHeldOut)

	execCobra(t, wmFineTuneCmd(), "--data", data, "--from", parent, "--out", out, "--steps", "3", "--batch", "4", "--unroll", "4",
		"--checkpoint-every", "3", "--with-sim", "--min-new-eval", "2", "--max-windows", "2", "--since", "1h", "--json")

	dir, err := checkpoint.Resolve(out)
	if err != nil {
		t.Fatal(err)
	}
	c, err := checkpoint.Read(dir, objects.CheckpointFormat, objects.CheckpointVersion, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Step != 2+3 {
		t.Fatalf("fine-tuned checkpoint at step %d, want the parent's 2 + 3", c.Step)
	}
	man, err := objects.ReadFineTuneManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(man.NewIDs["fleet"], train) || !slices.Equal(man.HeldOutNewIDs, heldOut) || man.Parent.Step != 2 || man.DataHash != c.DataHash {
		t.Fatalf("manifest: new %v held out %v parent %+v hash %s; want new %v held out %v, hash %s",
			man.NewIDs, man.HeldOutNewIDs, man.Parent, man.DataHash, train, heldOut, c.DataHash)
	}
	var fr finetune.Report
	if err := json.Unmarshal(man.Fidelity, &fr); err != nil {
		t.Fatalf("manifest fidelity: %v", err)
	}
	if len(fr.Fidelity) != 2 || fr.Fidelity[0].Set != "held_out" || fr.Fidelity[1].Set != "held_out_new" || !slices.Equal(fr.Fidelity[1].IDs, heldOut) {
		t.Fatalf("fidelity sets %+v", fr.Fidelity)
	}
	for _, s := range fr.Fidelity {
		if s.Windows == 0 || s.Before.BlockErrPx1 < 0 || s.After.BlockErrPx1 < 0 || s.Before.AgentErrPx1 < 0 || s.After.AgentErrPx1 < 0 {
			t.Errorf("%s: %d windows, before %+v after %+v", s.Set, s.Windows, s.Before, s.After)
		}
	}

	// More logs arrive: fine-tune the fine-tune in place (its checkpoints
	// pruned meanwhile, the parent among them); only the new ones are new.
	train2, heldOut2 := experttest.FleetEpisodes(t, store, []int64{12, 13, 14}, 1, 1, split.IsHeldOut)
	execCobra(t, wmFineTuneCmd(), "--data", data, "--from", out, "--out", out, "--steps", "3", "--batch", "4", "--unroll", "4",
		"--checkpoint-every", "1", "--with-sim", "--min-new-eval", "1", "--max-windows", "2")
	dir2, err := checkpoint.Resolve(out)
	if err != nil {
		t.Fatal(err)
	}
	man2, err := objects.ReadFineTuneManifest(dir2)
	if err != nil {
		t.Fatal(err)
	}
	if man2.FromStep != 5 || man2.ToStep != 8 || man2.Parent.Dir != dir || !slices.Equal(man2.NewIDs["fleet"], train2) || !slices.Equal(man2.HeldOutNewIDs, heldOut2) {
		t.Fatalf("second fine-tune: steps %d..%d from %s, new %v held out %v; want 5..8 from %s, %v, %v",
			man2.FromStep, man2.ToStep, man2.Parent.Dir, man2.NewIDs, man2.HeldOutNewIDs, dir, train2, heldOut2)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the parent %s was not pruned (%v): the test does not cover evaluating a pruned parent", dir, err)
	}
}

func execCobra(t *testing.T, cmd interface {
	SetArgs([]string)
	ExecuteContext(context.Context) error
	Name() string
}, args ...string) {
	t.Helper()
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%s %v: %v", cmd.Name(), args, err)
	}
}
