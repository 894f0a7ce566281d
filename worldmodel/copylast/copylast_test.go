package copylast

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

func TestContract(t *testing.T) {
	m, err := worldmodel.Open(context.Background(), Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	modeltest.Contract(t, m)
}

func TestRepeatsLastObservation(t *testing.T) {
	spec := PushTSpec()
	rng := rand.New(rand.NewPCG(3, 4))
	obs := modeltest.Observations(spec, 1, rng)
	r, err := New(spec).Start(context.Background(), [][]worldmodel.Observation{obs})
	if err != nil {
		t.Fatal(err)
	}
	pred, err := r.Step(context.Background(), modeltest.Actions(spec, 1, 4, rng))
	if err != nil {
		t.Fatal(err)
	}
	for k, o := range pred[0] {
		if !slices.Equal(o.Frame, obs[0].Frame) || !slices.Equal(o.Proprio, obs[0].Proprio) {
			t.Fatalf("step %d differs from the last observation", k)
		}
	}
}
