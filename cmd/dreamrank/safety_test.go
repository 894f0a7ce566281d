package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/evaluator/validation"
	"dreamrank/evaluator/validation/wmpool"
)

// TestSafetyPoolWorldModel wires 'safety pool --world-model objects' on two
// initial conditions with a short horizon: a pool too small for the harness
// is still written, with the ensemble features, and so are the statistics.
func TestSafetyPoolWorldModel(t *testing.T) {
	dir := t.TempDir()
	out, stats := filepath.Join(dir, "pool.json"), filepath.Join(dir, "stats.json")
	cmd := safetyCmd()
	cmd.SetArgs([]string{"pool", "--world-model", "objects", "--opt", "checkpoint=../../checkpoints/pusht-objects",
		"--arm", "scripted-q3", "--draws", "1", "-n", "2", "--horizon", "10", "--batch", "2", "-o", out, "--stats", stats})
	err := cmd.ExecuteContext(context.Background())
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("err = %v, want ErrBadPool (2 records)", err)
	}
	p, err := validation.Load(out)
	if !errors.Is(err, validation.ErrBadPool) || len(p.Records) != 2 || len(p.Records[0].Features) != 2*len(wmpool.FeatureNames) {
		t.Fatalf("pool %+v, %v", p, err)
	}
	if _, err := os.Stat(stats); err != nil {
		t.Fatal(err)
	}
}
