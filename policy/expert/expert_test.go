package expert

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"dreamrank/foundation/pusht"
)

func TestDeterministicGivenSeed(t *testing.T) {
	// Quality 3 uses noise and mistakes, so the policy's own random stream
	// is exercised too.
	opts := Options{Quality: 3}
	a, err := Run(context.Background(), pusht.New(pusht.Config{}), 100002, opts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Run(context.Background(), pusht.New(pusht.Config{}), 100002, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Actions, b.Actions) || !slices.Equal(a.Rewards, b.Rewards) {
		t.Fatalf("two runs of seed 100002 differ: %d vs %d steps", a.Steps(), b.Steps())
	}
}

func TestSolvesEasySeeds(t *testing.T) {
	env := pusht.New(pusht.Config{})
	for _, seed := range []int64{100001, 100002} {
		r, err := Run(context.Background(), env, seed, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Success || r.MaxReward != 1 || r.StepsToSuccess != r.Steps() {
			t.Errorf("seed %d: success %v after %d steps, max reward %.3f", seed, r.Success, r.Steps(), r.MaxReward)
		}
		if len(r.States) != r.Steps()+1 || len(r.Rewards) != r.Steps() || len(r.Coverage) != r.Steps() {
			t.Errorf("seed %d: %d states, %d rewards for %d steps", seed, len(r.States), len(r.Rewards), r.Steps())
		}
		// The last recorded state is the successful one.
		if c := pusht.Coverage(r.States[len(r.States)-1].Block); c <= pusht.SuccessCoverage {
			t.Errorf("seed %d: final coverage %.3f", seed, c)
		}
	}
}

// Quality 1 and 5 differ by far more than seed-to-seed noise: on these seeds
// quality 5 takes about 100 steps and quality 1 about 250.
func TestLowQualityIsWorse(t *testing.T) {
	seeds := []int64{100000, 100001, 100002, 100003}
	ctx := context.Background()
	hi, err := Evaluate(ctx, seeds, Options{Quality: 5}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	lo, err := Evaluate(ctx, seeds, Options{Quality: 1}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("quality 5: success %.2f, %.0f steps; quality 1: success %.2f, %.0f steps",
		hi.SuccessRate, hi.MeanSteps, lo.SuccessRate, lo.MeanSteps)
	if hi.SuccessRate != 1 || lo.SuccessRate > hi.SuccessRate || lo.MeanSteps < 1.5*hi.MeanSteps {
		t.Errorf("quality 1 is not clearly worse than quality 5")
	}
}

func TestCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, pusht.New(pusht.Config{}), 100000, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run on a cancelled context: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	_, err := Evaluate(ctx, TestSeeds(), Options{}, 2, func(done, total int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate cancelled after the first episode: %v", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("Evaluate took %v to stop", el)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{Quality: 6}, {Quality: -1}, {Speed: 7}, {MaxSteps: -1}} {
		if _, err := Run(context.Background(), pusht.New(pusht.Config{}), 0, o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	r, err := Run(context.Background(), pusht.New(pusht.Config{}), 100000, Options{MaxSteps: 5, Speed: SpeedFast})
	if err != nil || r.Steps() != 5 {
		t.Errorf("MaxSteps 5: %d steps, %v", r.Steps(), err)
	}
}

func TestWilson(t *testing.T) {
	lo, hi := Wilson(45, 50, 1.959964)
	if math.Abs(lo-0.7864) > 1e-3 || math.Abs(hi-0.9565) > 1e-3 {
		t.Errorf("Wilson(45,50) = [%.4f, %.4f], want [0.7864, 0.9565]", lo, hi)
	}
	if lo, hi := Wilson(50, 50, 1.959964); math.Abs(hi-1) > 1e-12 || math.Abs(lo-0.9287) > 1e-3 {
		t.Errorf("Wilson(50,50) = [%.4f, %.4f]", lo, hi)
	}
}

// BenchmarkDecide measures one full replanning (the expensive decision; most
// steps only follow the current plan) at the default quality, from the state
// of seed 100000 after 40 expert steps.
func BenchmarkDecide(b *testing.B) {
	env := pusht.New(pusht.Config{})
	r, err := Run(context.Background(), env, 100000, Options{MaxSteps: 40})
	if err != nil {
		b.Fatal(err)
	}
	s := r.States[len(r.States)-1]
	pol, err := NewPolicy(env, 1, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		pol.decide(s)
	}
	b.ReportMetric(float64(pol.SimSteps)/float64(b.N), "simsteps/op")
}
