package steering

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/scripted"
	"dreamrank/policy/trial"
)

func TestCompare(t *testing.T) {
	a := []trial.Result{{Seed: 1, Success: true, Steps: 100, MaxReward: 1}, {Seed: 2, Success: true, Steps: 120, MaxReward: 1},
		{Seed: 3, Success: false, Steps: 300, MaxReward: 0.5}, {Seed: 9, Success: true, Steps: 50, MaxReward: 1}}
	b := []trial.Result{{Seed: 3, Success: false, Steps: 300, MaxReward: 0.4}, {Seed: 2, Success: false, Steps: 300, MaxReward: 0.8},
		{Seed: 1, Success: true, Steps: 150, MaxReward: 1}}
	p, err := Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	// Seed 9 has no partner; the three pairs differ by (0, 1, 0) in
	// success, (-50, -180, 0) in steps.
	if p.Seeds != 3 || !near(p.Success.Mean, 1.0/3) || !near(p.Steps.Mean, -230.0/3) || !near(p.MaxReward.Mean, 0.1) {
		t.Errorf("compare %+v", p)
	}
	if _, err := Compare(a, []trial.Result{{Seed: 1}}); !errors.Is(err, ErrConfig) {
		t.Errorf("one common seed: %v, want ErrConfig", err)
	}
}

func near(x, y float64) bool { return x-y < 1e-9 && y-x < 1e-9 }

// TestSuccessCoverage simulates paired seeds whose difficulty is shared by
// both arms and checks that the paired interval of the success difference
// covers the true difference about 95% of the time.
func TestSuccessCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const reps, seeds = 600, 120
	covered := 0
	for range reps {
		var a, b []trial.Result
		truth := 0.0
		for s := range seeds {
			// Per-seed difficulty d; arm A succeeds with 0.9-d, B with
			// 0.6-d, driven by one uniform per seed (strongly paired).
			d := 0.3 * rng.Float64()
			u := rng.Float64()
			a = append(a, trial.Result{Seed: int64(s), Success: u < 0.9-d})
			b = append(b, trial.Result{Seed: int64(s), Success: u < 0.6-d})
			truth += 0.3
		}
		truth /= seeds
		p, err := Compare(a, b)
		if err != nil {
			t.Fatal(err)
		}
		if float64(p.Success.CI.Lo) <= truth && truth <= float64(p.Success.CI.Hi) {
			covered++
		}
	}
	// 600 reps: the binomial sd of the coverage is 0.009; 0.92..0.98
	// allows three of them either way around 0.95.
	if c := float64(covered) / reps; c < 0.92 || c > 0.98 {
		t.Errorf("paired success interval covered the truth %.3f of the time, want about 0.95", c)
	}
}

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("plays four full episodes")
	}
	p, err := scripted.New(scripted.Config{})
	if err != nil {
		t.Fatal(err)
	}
	subgoals := 0
	cfg := Config{Seeds: []int64{100002, 100003},
		Arms: []Arm{
			{Name: "fast", Context: policy.Context{Metadata: policy.Metadata{Speed: policy.SpeedFast}}},
			{Name: "slow", Context: policy.Context{Metadata: policy.Metadata{Speed: policy.SpeedSlow}}, Subgoal: true},
		},
		Contrasts: []Contrast{{A: "fast", B: "slow"}}, Workers: 1,
		Subgoal: func(_ context.Context, env *pusht.Env) ([]uint8, error) {
			subgoals++
			return env.Observe().Image, nil
		}}
	rep, err := Run(context.Background(), p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Arms) != 2 || len(rep.Contrasts) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if c := rep.Contrasts[0]; c.Seeds != 2 || c.Steps.Mean >= 0 {
		t.Errorf("fast minus slow: %+v, want two seeds and fewer steps", c)
	}
	if subgoals == 0 {
		t.Error("the subgoal arm made no subgoals")
	}
	bad := cfg
	bad.Contrasts = []Contrast{{A: "fast", B: "medium"}}
	if _, err := Run(context.Background(), p, bad); !errors.Is(err, ErrConfig) {
		t.Errorf("contrast with an unknown arm: %v, want ErrConfig", err)
	}
}

func TestExpertSubgoal(t *testing.T) {
	sub, err := ExpertSubgoal(16)
	if err != nil {
		t.Fatal(err)
	}
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100000)
	before := env.State()
	img, err := sub(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if env.State() != before {
		t.Error("the look-ahead moved the episode's own environment")
	}
	if len(img) != pusht.ObsSize*pusht.ObsSize*3 {
		t.Fatalf("subgoal of %d bytes", len(img))
	}
	now := env.Observe().Image
	same := true
	for i := range img {
		if img[i] != now[i] {
			same = false
			break
		}
	}
	if same {
		t.Error("the subgoal after 16 expert steps is the current frame")
	}
}
