package scripted

import (
	"context"
	"testing"

	"dreamrank/policy"
	"dreamrank/policy/policytest"
)

// TestContract opens the registered backend with noise, so determinism
// covers the seeded noise too.
func TestContract(t *testing.T) {
	p, err := policy.Open(context.Background(), Name, policy.Options{OptChunk: "4", OptNoise: "5", OptSeed: "3", OptWorkers: "2"})
	if err != nil {
		t.Fatal(err)
	}
	policytest.Contract(t, p, policytest.PushT(3))
}
