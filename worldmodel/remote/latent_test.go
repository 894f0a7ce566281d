package remote

import (
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/service/servicetest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
	"dreamrank/worldmodel/modeltest"
)

// TestLatent serves the built-in gorgonia model (a tiny, untrained
// configuration) behind the protocol: it keeps the contract, and its
// predictions are the ones it makes in process.
func TestLatent(t *testing.T) {
	cfg := latent.ModelConfig{FrameH: 16, FrameW: 16, ContextLen: 3, C1: 4, C2: 6, Blocks: 1, CD: 4, Table: 512, AgentRadius: 40, GateRadius: 300}
	served, err := latent.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := latent.New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	url := servicetest.NATS(t)
	serve(t, url, "latent-tiny", served, ServeOptions{})
	remote := dial(t, url, "latent-tiny", DialOptions{})
	if remote.Spec() != direct.Spec() {
		t.Fatalf("spec %+v, want %+v", remote.Spec(), direct.Spec())
	}
	if remote.FLOPsPerStep() != direct.FLOPsPerStep() {
		t.Fatalf("FLOPs %v, want %v", remote.FLOPsPerStep(), direct.FLOPsPerStep())
	}
	modeltest.Contract(t, remote)

	spec := direct.Spec()
	rng := rand.New(rand.NewPCG(23, 24))
	contexts := [][]worldmodel.Observation{modeltest.Observations(spec, 3, rng), modeltest.Observations(spec, 1, rng)}
	sameSteps(t, direct, remote, contexts, 3, func(int) [][][]float32 {
		return modeltest.Actions(spec, len(contexts), 4, rng)
	}, nil)
}
