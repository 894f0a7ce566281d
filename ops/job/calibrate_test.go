package job

import (
	"errors"
	"math/rand/v2"
	"testing"
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
		c, err := Calibrate(sc, real)
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
		if _, err := Calibrate(sc, []RealEpisodes{r}); !errors.Is(err, ErrUnpaired) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
