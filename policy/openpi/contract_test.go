package openpi

import (
	"context"
	"net/http/httptest"
	"testing"

	"dreamrank/policy"
	"dreamrank/policy/policytest"
	"dreamrank/policy/scripted"
)

// TestContract serves the scripted policy over the openpi protocol and
// opens it through the registry: the client keeps the policy's promises.
func TestContract(t *testing.T) {
	served, err := scripted.New(scripted.Config{Chunk: 4, Noise: 5, Seed: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Serve(served, ServerOptions{Logf: quiet}))
	defer srv.Close()
	p, err := policy.Open(context.Background(), "openpi", policy.Options{"url": srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*Client).Close()
	policytest.Contract(t, p, policytest.PushT(3))
}
