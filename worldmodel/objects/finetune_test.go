package objects

import (
	"context"
	"dreamrank/policy/expert/experttest"
	"dreamrank/worldmodel/split"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
)

// heldOutID reports whether split.IsHeldOut holds out a fleet episode of
// this id (FNV-1a of the id modulo 10).
// trainParent trains a tiny parent model on a few simulated episodes.
func trainParent(t *testing.T, store *episode.Store) (string, TrainConfig) {
	t.Helper()
	cfg := DefaultTrainConfig()
	cfg.Model.Hidden, cfg.Model.Layers = 16, 2
	cfg.OutDir = filepath.Join(t.TempDir(), "parent")
	cfg.Steps, cfg.Batch, cfg.Unroll, cfg.CheckpointEvery = 4, 8, 4, 4
	path, err := Train(context.Background(), store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// A fine-tune continues the parent: its copy in the output directory is the
// parent byte for byte, training resumes at the parent's step with its
// weights and optimizer, the step count continues, and the manifest names
// exactly the new fleet episodes, the replayed ones and the parent.
func TestFineTuneContinuesParent(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	ctx := context.Background()
	store := simStore(t)
	parentPath, _ := trainParent(t, store)
	parent, err := checkpoint.Read(parentPath, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		t.Fatal(err)
	}
	newTrain, newHeldOut := experttest.FleetEpisodes(t, store, []int64{11, 12, 13, 14}, 2, 1, split.IsHeldOut)

	cfg := DefaultFineTuneConfig()
	cfg.Parent = filepath.Dir(parentPath) // the training directory: its latest
	cfg.OutDir = filepath.Join(t.TempDir(), "ft")
	cfg.Steps, cfg.CheckpointEvery, cfg.Batch, cfg.Unroll, cfg.Replay = 3, 3, 8, 4, 0.5
	cfg.LR = 1e-9 // parameters barely move: the fine-tuned ones must be the parent's
	var msgs []string
	man, err := FineTune(ctx, store, cfg, func(p TrainProgress) {
		if p.Message != "" {
			msgs = append(msgs, p.Message)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	// The parent, copied unchanged as the output directory's first checkpoint.
	copyDir := filepath.Join(cfg.OutDir, checkpoint.Name(checkpointPrefix, CheckpointVersion, parent.Step))
	cp, err := checkpoint.Read(copyDir, CheckpointFormat, CheckpointVersion, true)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Files[checkpoint.WeightsFile] != parent.Files[checkpoint.WeightsFile] || cp.Optimizer == nil {
		t.Fatal("the output directory's first checkpoint is not the parent's")
	}
	resumed := "resumed from " + copyDir + " at step 4"
	if !slices.Contains(msgs, resumed) {
		t.Fatalf("no %q among %q", resumed, msgs)
	}
	got, err := checkpoint.Read(man.Checkpoint, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != parent.Step+cfg.Steps || man.FromStep != parent.Step || man.ToStep != got.Step {
		t.Fatalf("fine-tuned to step %d (manifest %d..%d), want %d..%d", got.Step, man.FromStep, man.ToStep, parent.Step, parent.Step+cfg.Steps)
	}
	for i, w := range got.Weights {
		for j, v := range w.Data {
			if d := math.Abs(float64(v - parent.Weights[i].Data[j])); d > 1e-6 {
				t.Fatalf("%s[%d] moved by %g at lr 1e-9: not the parent's weights", w.Name, j, d)
			}
		}
	}

	// The manifest: new ids by source, held-out new ids, replay from the
	// parent's training set, hashes, parent identity; beside the checkpoint.
	if !slices.Equal(man.NewIDs["fleet"], newTrain) || len(man.NewIDs) != 1 {
		t.Errorf("new ids %v, want fleet %v", man.NewIDs, newTrain)
	}
	if !slices.Equal(man.HeldOutNewIDs, newHeldOut) {
		t.Errorf("held-out new ids %v, want %v", man.HeldOutNewIDs, newHeldOut)
	}
	var pm split.Manifest
	if err := json.Unmarshal(parent.Manifest, &pm); err != nil {
		t.Fatal(err)
	}
	nReplay := 0
	for _, ids := range man.ReplayIDs {
		for _, id := range ids {
			nReplay++
			if !slices.Contains(pm.TrainIDs, id) {
				t.Errorf("replayed %s is not a parent training episode", id)
			}
		}
	}
	if want := int(math.Round(0.5 * float64(len(newTrain)))); nReplay != want || man.Counts["replay_episodes"] != want {
		t.Errorf("%d replayed episodes (counts %v), want %d", nReplay, man.Counts, want)
	}
	if man.Counts["new_episodes"] != len(newTrain) || man.Counts["held_out_new_episodes"] != len(newHeldOut) {
		t.Errorf("counts %v", man.Counts)
	}
	if man.DataHash != got.DataHash || man.NewDataHash == "" || man.NewFrom.IsZero() || man.NewTo.Before(man.NewFrom) {
		t.Errorf("data hash %s (checkpoint %s), new %s, time range %v..%v", man.DataHash, got.DataHash, man.NewDataHash, man.NewFrom, man.NewTo)
	}
	if man.Parent.Dir != parentPath || man.Parent.Step != parent.Step || man.Parent.DataHash != parent.DataHash ||
		man.Parent.WeightsSHA256 != parent.Files[checkpoint.WeightsFile].SHA256 {
		t.Errorf("parent %+v", man.Parent)
	}
	onDisk, err := ReadFineTuneManifest(man.Checkpoint)
	if err != nil || !slices.Equal(onDisk.NewIDs["fleet"], newTrain) || onDisk.Checkpoint != man.Checkpoint {
		t.Fatalf("manifest beside the checkpoint: %+v, %v", onDisk, err)
	}
	for _, id := range append(slices.Clone(newTrain), newHeldOut...) {
		if !slices.Contains(man.SeenIDs, id) {
			t.Errorf("seen ids lack new episode %s", id)
		}
	}

	// Nothing new since: a fine-tune of the fine-tune has no data, and a
	// finished fine-tune run again does nothing more.
	again := cfg
	again.Parent, again.OutDir = cfg.OutDir, filepath.Join(t.TempDir(), "ft2")
	if _, err := FineTune(ctx, store, again, nil); !errors.Is(err, ErrNoData) {
		t.Fatalf("fine-tune with nothing new: %v, want ErrNoData", err)
	}
	// Another output directory's checkpoint is refused.
	other := cfg
	other.OutDir = filepath.Dir(parentPath)
	other.Parent = man.Checkpoint
	if _, err := FineTune(ctx, store, other, nil); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("fine-tune into another model's directory: %v", err)
	}
}
