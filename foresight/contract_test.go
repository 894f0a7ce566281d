package foresight

import (
	"testing"

	"dreamrank/policy/policytest"
)

// TestContract runs the policy contract on a tiny flow policy with an
// observation adapter whose output layer is made non-zero (a fresh one
// changes nothing), so the adapter's rows are in every chunk. The
// registry's "foresight" opener only adds loading from disk.
func TestContract(t *testing.T) {
	p, _, _ := tinyPolicy(t, 3)
	a, err := NewAdapter(p, AdapterConfig{Hidden: 16, Layers: 2, Obs: true}, 5)
	if err != nil {
		t.Fatal(err)
	}
	out := a.Params().Get("adapter.out.w").Data()
	for i := range out {
		out[i] = float32(i%7-3) / 50
	}
	p.Adapter = a
	obs, _ := tinyObs(3)
	policytest.Contract(t, p, obs)
}
