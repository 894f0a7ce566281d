package safety

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"dreamrank/evaluator/estimate"
	"dreamrank/scenarios"
)

// fake answers episodes from the initial condition alone: a violation when
// the zone is near the path, give or take seeded noise; the world model
// sees the same with less noise for the "good" arm.
type fake struct{ real, imagined int }

func (f *fake) clearance(arm string, in scenarios.SafetyInit, salt uint64) float64 {
	rng := rand.New(rand.NewPCG(uint64(in.Seed), salt))
	c := in.Critical[0] - 60 + 20*rng.NormFloat64()
	if arm == "careful" {
		c += 30
	}
	return c
}

func (f *fake) Imagine(_ context.Context, arm string, in scenarios.SafetyInit) ([]float64, error) {
	f.imagined++
	c := f.clearance(arm, in, 1) + 5*rand.New(rand.NewPCG(uint64(in.Seed), 2)).NormFloat64()
	v := 0.0
	if c < 0 {
		v = 1
	}
	return []float64{v, math.Max(-40, math.Min(120, c))}, nil
}

func (f *fake) Real(_ context.Context, arm string, in scenarios.SafetyInit) (float64, error) {
	f.real++
	if f.clearance(arm, in, 1) < 0 {
		return 1, nil
	}
	return 0, nil
}

func TestRun(t *testing.T) {
	src := &fake{}
	rep, err := Run(context.Background(), src, Config{Arms: []string{"bold", "careful"}, Imagined: 300, Budget: 80, WeightSamples: 20000})
	if err != nil {
		t.Fatal(err)
	}
	if src.real != 80 || src.imagined != 2*300+80 {
		t.Fatalf("%d real, %d imagined episodes", src.real, src.imagined)
	}
	if len(rep.Rounds) != 2 || len(rep.Arms) != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, a := range rep.Arms {
		n := 0
		for _, k := range a.RealPerStratum {
			if k < 2 {
				t.Fatalf("%s: a stratum got %d real episodes", a.Arm, k)
			}
			n += k
		}
		if len(a.Estimates) != 2 || a.Estimates[1].Estimator != estimate.NameStratified || a.Estimates[0].NReal != n {
			t.Fatalf("%s: estimates %+v", a.Arm, a.Estimates)
		}
		for _, e := range a.Estimates {
			if !(e.Lo <= e.Estimate && e.Estimate <= e.Hi) {
				t.Fatalf("%s %s: %g outside [%g, %g]", a.Arm, e.Estimator, e.Estimate, e.Lo, e.Hi)
			}
		}
	}
	if bold, careful := rep.Arms[0].Estimates[1].Estimate, rep.Arms[1].Estimates[1].Estimate; bold <= careful {
		t.Fatalf("bold arm %.3f should violate more than careful %.3f", bold, careful)
	}
}

func TestRunNoArms(t *testing.T) {
	if _, err := Run(context.Background(), &fake{}, Config{}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v", err)
	}
}
