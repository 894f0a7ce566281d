package job

import (
	"errors"
	"math/rand/v2"
	"testing"

	"dreamrank/scenarios"
)

// scenario imagines arms over seeds 0..n-1 with the given success per seed.
func scenario(arms map[string][]bool) ScenarioResult {
	sc := ScenarioResult{Scenario: "pusht"}
	for name, succ := range arms {
		e := ArmEpisodes{Arm: name}
		for i, s := range succ {
			e.Seeds = append(e.Seeds, int64(i))
			e.Success = append(e.Success, s)
			e.MaxReward = append(e.MaxReward, 0.5+0.5*b2f(s))
		}
		sc.Episodes = append(sc.Episodes, e)
	}
	return sc
}

// draw imagines 200 seeds per arm and plays 40 of them for real, in a
// shuffled order, agreeing with the imagined outcome 90% of the time.
func draw(rng *rand.Rand) (ScenarioResult, []RealEpisodes) {
	imagined := map[string][]bool{}
	var real []RealEpisodes
	for _, arm := range []struct {
		name string
		p    float64
	}{{"good", 0.8}, {"bad", 0.2}, {"mid", 0.5}} {
		succ := make([]bool, 200)
		for i := range succ {
			succ[i] = rng.Float64() < arm.p
		}
		imagined[arm.name] = succ
		r := RealEpisodes{Arm: arm.name}
		for _, s := range rng.Perm(200)[:40] {
			ok := succ[s]
			if rng.Float64() < 0.1 {
				ok = !ok
			}
			r.Seeds, r.Success = append(r.Seeds, int64(s)), append(r.Success, ok)
		}
		real = append(real, r)
	}
	return scenario(imagined), real
}

func TestCalibratePairsBySeed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cvWidth, roWidth float64
	const reps = 30
	for range reps {
		sc, real := draw(rng)
		c, err := Calibrate(ScenarioInfo{Name: "pusht"}, sc, real)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Estimates) != 3 || c.Agreement == nil || c.Agreement.Arms != 3 {
			t.Fatalf("calibration %+v", c)
		}
		for _, e := range c.Estimates {
			if e.RealBudget != 40 || e.Imagined != 160 || e.RealOnly.NReal != 40 || e.ControlVariate.NImagined != 160 {
				t.Fatalf("%s: %+v", e.Arm, e)
			}
			cvWidth += e.ControlVariate.Width()
			roWidth += e.RealOnly.Width()
		}
		if ep := c.Agreement.Episodes; ep == nil || ep.Accuracy < 0.8 {
			t.Fatalf("episode agreement %+v", ep)
		}
	}
	// A model that agrees 90% of the time must narrow the intervals on
	// average (seed by seed a t interval may come out wider).
	if cvWidth >= 0.9*roWidth {
		t.Fatalf("mean control-variate width %.3f vs real-only %.3f", cvWidth/(3*reps), roWidth/(3*reps))
	}
	t.Logf("mean width: control variate %.3f, real-only %.3f", cvWidth/(3*reps), roWidth/(3*reps))
}

func TestCalibrateRejectsUnpaired(t *testing.T) {
	sc := scenario(map[string][]bool{"a": {true, false}})
	for name, r := range map[string]RealEpisodes{
		"unknown arm":  {Arm: "b", Seeds: []int64{0}, Success: []bool{true}},
		"unknown seed": {Arm: "a", Seeds: []int64{7}, Success: []bool{true}},
	} {
		if _, err := Calibrate(ScenarioInfo{Name: "pusht"}, sc, []RealEpisodes{r}); !errors.Is(err, ErrUnpaired) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCalibrateSafetyEvent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	grid := scenarios.SafetyStrata()
	info := ScenarioInfo{Name: "pusht-safety", Event: EventViolation, Strata: &grid}
	sc := ScenarioResult{Scenario: info.Name}
	var real []RealEpisodes
	for _, arm := range []struct {
		name string
		p    float64
	}{{"careful", 0.1}, {"bold", 0.4}} {
		e := ArmEpisodes{Arm: arm.name}
		r := RealEpisodes{Arm: arm.name}
		for s := range int64(400) {
			in := scenarios.PushTSafety{}.Sample(s)
			pred := rng.Float64() < arm.p
			e.Seeds, e.Success, e.MaxReward = append(e.Seeds, s), append(e.Success, true), append(e.MaxReward, 1)
			e.Critical = append(e.Critical, in.Critical)
			e.Features = append(e.Features, []float64{b2f(pred), rng.Float64() * 50})
			if s < 80 {
				v := pred
				if rng.Float64() < 0.1 {
					v = !v
				}
				r.Seeds, r.Success, r.Violated = append(r.Seeds, s), append(r.Success, true), append(r.Violated, v)
			}
		}
		sc.Episodes, real = append(sc.Episodes, e), append(real, r)
	}
	c, err := Calibrate(info, sc, real)
	if err != nil {
		t.Fatal(err)
	}
	if c.Event != EventViolation || len(c.Estimates) != 2 || c.Agreement == nil {
		t.Fatalf("calibration %+v", c)
	}
	for _, e := range c.Estimates {
		if e.Event != EventViolation || e.RealBudget != 80 || e.Imagined != 320 {
			t.Fatalf("estimate %+v", e)
		}
		if e.Stratified == nil && len(c.Notes) == 0 {
			t.Fatalf("%s: no stratified estimate and no note why", e.Arm)
		}
	}
	if bold, careful := c.Estimates[1].ControlVariate.Estimate, c.Estimates[0].ControlVariate.Estimate; bold <= careful {
		t.Fatalf("bold arm's violation rate %.3f not above the careful one's %.3f", bold, careful)
	}
	// Violations missing on a safety scenario are an error, not a silent 0.
	real[0].Violated = nil
	if _, err := Calibrate(info, sc, real); !errors.Is(err, ErrUnpaired) {
		t.Fatalf("missing violations: %v", err)
	}
}
