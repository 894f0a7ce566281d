package flow

import (
	"context"
	"path/filepath"
	"testing"

	"dreamrank/policy"
	"dreamrank/policy/policytest"
)

// TestContract opens a tiny trained checkpoint through the registry, with
// guidance, so both the conditional and the metadata-free rows are used.
func TestContract(t *testing.T) {
	path, err := Train(context.Background(), tinyStore(t), tinyTrain(filepath.Join(t.TempDir(), "policy")), nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Open(context.Background(), Name, policy.Options{"checkpoint": path, "cfg": "1.5", "seed": "3"})
	if err != nil {
		t.Fatal(err)
	}
	policytest.Contract(t, p, tinyObs(3))
}
