package scenarios

import (
	"errors"
	"math"
	"testing"
)

func TestSafetyRiskOrder(t *testing.T) {
	names := []string{"pred_violation", "pred_min_clearance_px", "pred_first_violation_frac"}
	risk, err := SafetyRisk(names)
	if err != nil {
		t.Fatal(err)
	}
	// From safest to riskiest.
	ordered := []struct {
		name     string
		features []float64
	}{
		{"far miss", []float64{0, 120, 1}},
		{"near miss", []float64{0, 5, 1}},
		{"late violation", []float64{1, -3, 0.9}},
		{"early violation", []float64{1, -3, 0.05}},
	}
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		if risk(a.features) >= risk(b.features) {
			t.Errorf("%s (%g) not below %s (%g)", a.name, risk(a.features), b.name, risk(b.features))
		}
	}
	ens, err := SafetyRisk(append(names, "ens_violation"))
	if err != nil {
		t.Fatal(err)
	}
	if ens([]float64{1, -3, 0.05, 0.25}) >= ens([]float64{0, 50, 1, 0.5}) {
		t.Error("an ensemble's violation fraction must rank above the first draw's features")
	}
	if _, err := SafetyRisk([]string{"pred_min_clearance_px"}); !errors.Is(err, ErrFeatures) {
		t.Errorf("no violation feature: %v", err)
	}
}

func TestSafetyChance(t *testing.T) {
	names := []string{"pred_violation", "pred_min_clearance_px", "ens_violation"}
	tests := []struct {
		name     string
		ensemble int
		features []float64
		want     float64
	}{
		{"lone rollout, miss", 1, []float64{0, 50, 1}, 0.25},
		{"lone rollout, violation", 1, []float64{1, -3, 0}, 0.75},
		{"ensemble of 4, none", 4, []float64{1, -3, 0}, 0.1},
		{"ensemble of 4, all", 4, []float64{0, 50, 1}, 0.9},
		{"ensemble of 16, half", 16, []float64{0, 50, 0.5}, 8.5 / 17},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chance, err := SafetyChance(names, tc.ensemble)
			if err != nil {
				t.Fatal(err)
			}
			if got := chance(tc.features); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("chance %g, want %g", got, tc.want)
			}
		})
	}
	if _, err := SafetyChance(names[:2], 4); !errors.Is(err, ErrFeatures) {
		t.Errorf("ensemble without ens_violation: %v", err)
	}
	if _, err := SafetyChance(names, 0); !errors.Is(err, ErrFeatures) {
		t.Errorf("ensemble of 0: %v", err)
	}
}
