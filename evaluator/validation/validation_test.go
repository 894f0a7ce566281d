package validation

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"dreamrank/evaluator/estimate"
)

func TestSyntheticDeterministic(t *testing.T) {
	a := Synthetic(synth(500, 3))
	b := Synthetic(synth(500, 3))
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	for i := range a.Records {
		if !slices.Equal(a.Records[i].Features, b.Records[i].Features) || a.Records[i].Real != b.Records[i].Real {
			t.Fatalf("record %d differs", i)
		}
	}
	if tr := a.Truth(); tr <= 0.05 || tr >= 0.95 {
		t.Fatalf("violation rate %g: the pool is degenerate", tr)
	}
}

func TestPoolRoundTrip(t *testing.T) {
	p := Synthetic(synth(200, 0))
	path := filepath.Join(t.TempDir(), "pool.json")
	if err := p.Save(path); err != nil {
		t.Fatal(err)
	}
	q, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Truth() != p.Truth() || len(q.Records) != 200 || q.Strata.Len() != p.Strata.Len() {
		t.Fatalf("round trip changed the pool")
	}
}

func TestSelect(t *testing.T) {
	p := Synthetic(synth(200, 0))
	names := []string{p.FeatureNames[2], p.FeatureNames[0]}
	q, err := p.Select(names)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.FeatureNames, names) || len(q.Records) != len(p.Records) {
		t.Fatalf("selected %v, %d records", q.FeatureNames, len(q.Records))
	}
	for i, r := range q.Records {
		o := p.Records[i]
		if r.Real != o.Real || !slices.Equal(r.Features, []float64{o.Features[2], o.Features[0]}) {
			t.Fatalf("record %d: %+v from %+v", i, r, o)
		}
	}
	if _, err := p.Select([]string{"nope"}); !errors.Is(err, ErrBadPool) {
		t.Errorf("unknown feature: err = %v", err)
	}
	if _, err := p.Select(nil); !errors.Is(err, ErrBadPool) {
		t.Errorf("no feature: err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	good := Synthetic(synth(200, 0))
	tests := []struct {
		name   string
		mutate func(p *Pool)
	}{
		{name: "too few records", mutate: func(p *Pool) { p.Records = p.Records[:50] }},
		{name: "ragged features", mutate: func(p *Pool) { p.Records[7].Features = p.Records[7].Features[:1] }},
		{name: "critical outside the strata", mutate: func(p *Pool) { p.Records[3].Critical = nil }},
		{name: "no features", mutate: func(p *Pool) {
			for i := range p.Records {
				p.Records[i].Features = nil
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			p.Records = slices.Clone(good.Records)
			tt.mutate(&p)
			if err := p.Validate(); !errors.Is(err, ErrBadPool) {
				t.Fatalf("err = %v, want ErrBadPool", err)
			}
		})
	}
}

// TestRun: a small run reports every estimator at every budget, real-only's
// MSE agrees with the exact real-only variance, intervals cover near their
// nominal rate, and the control variates do reduce variance on the
// synthetic pool.
func TestRun(t *testing.T) {
	p := Synthetic(synth(5000, 0))
	rep, err := Run(context.Background(), p, Config{Experiments: 200, Budgets: []int{40, 80}, Imagined: 500})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2*len(Estimators) {
		t.Fatalf("%d rows", len(rep.Rows))
	}
	for _, r := range rep.Rows {
		if r.Failures > 0 {
			t.Fatalf("%s at %d: %d failures", r.Estimator, r.Budget, r.Failures)
		}
		// 200 experiments: Monte Carlo SE about 0.015.
		if r.Coverage < 0.89 {
			t.Fatalf("%s at %d: coverage %.3f", r.Estimator, r.Budget, r.Coverage)
		}
		switch r.Estimator {
		case estimate.NameRealOnly:
			if r.EffectiveRealMultiplier < 0.75 || r.EffectiveRealMultiplier > 1.33 {
				t.Fatalf("real-only multiplier %.2f, want about 1", r.EffectiveRealMultiplier)
			}
		default:
			if r.VarianceReduction < 0.2 {
				t.Fatalf("%s at %d: variance reduction %.2f", r.Estimator, r.Budget, r.VarianceReduction)
			}
		}
	}
}

// TestRunPrior: with the world model's chances the report says so, and the
// two-phase design still covers and beats real-only.
func TestRunPrior(t *testing.T) {
	p := Synthetic(synth(5000, 0))
	chance := func(f []float64) float64 { return 0.25 + 0.5*f[0] } // a lone rollout's (k+½)/2
	rep, err := Run(context.Background(), p, Config{Experiments: 200, Budgets: []int{40}, Imagined: 500, Chance: chance})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Prior {
		t.Error("report does not say the prior was used")
	}
	for _, r := range rep.Rows {
		if r.Estimator == estimate.NameTwoPhase && (r.Failures > 0 || r.Coverage < 0.89 || r.VarianceReduction < 0.2) {
			t.Errorf("two-phase with prior: %d failures, coverage %.3f, variance reduction %.2f", r.Failures, r.Coverage, r.VarianceReduction)
		}
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Synthetic(synth(500, 0)), Config{Experiments: 5})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func synth(n int, seed uint64) SyntheticConfig {
	c := DefaultSynthetic()
	c.N, c.Seed = n, seed
	return c
}

// TestCommittedSimPool: the simulator pool the README's numbers come from
// loads and is what the README says.
func TestCommittedSimPool(t *testing.T) {
	p, err := Load(filepath.Join("testdata", "sim-pusht-safety-1000.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1000 || p.Truth() != 0.632 || p.Strata.Len() != 4 {
		t.Fatalf("%d records, truth %g, %d strata", len(p.Records), p.Truth(), p.Strata.Len())
	}
}
