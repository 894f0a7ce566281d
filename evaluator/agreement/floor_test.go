package agreement

import (
	"errors"
	"math"
	"testing"
)

func TestIndependentFloor(t *testing.T) {
	tests := []struct {
		name     string
		real     []float64
		episodes int
		lo, hi   float64 // bounds on the mean MMRV
	}{
		// Rates 0 and 1 never vary: nothing can be misordered.
		{"certain arms", []float64{0, 1, 0, 1}, 10, 0, 0},
		// Far apart (0.5 gaps) with 200 episodes: a swap needs a 7-sigma draw.
		{"far apart", []float64{0.2, 0.7}, 200, 0, 1e-3},
		// Two arms 0.04 apart with 50 episodes swap or tie often: MMRV is
		// 0.04 with probability P(swap or tie), about a half.
		{"close pair", []float64{0.5, 0.54}, 50, 0.01, 0.035},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := IndependentFloor(tt.real, tt.episodes, 2000, 1)
			if err != nil {
				t.Fatal(err)
			}
			if f.MMRV < tt.lo || f.MMRV > tt.hi {
				t.Errorf("mean MMRV %.4f, want in [%g, %g]", f.MMRV, tt.lo, tt.hi)
			}
		})
	}
	t.Run("more episodes lower the floor", func(t *testing.T) {
		rates := []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}
		few, _ := IndependentFloor(rates, 20, 1000, 1)
		many, _ := IndependentFloor(rates, 500, 1000, 1)
		if !(many.MMRV < few.MMRV/2) || !(many.Pearson > few.Pearson) {
			t.Errorf("20 episodes %+v, 500 episodes %+v", few, many)
		}
		if math.IsNaN(many.Pearson) || many.Pearson < 0.99 {
			t.Errorf("500 episodes Pearson %v, want near 1", many.Pearson)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		if _, err := IndependentFloor([]float64{0.5}, 50, 10, 1); !errors.Is(err, ErrBadInput) {
			t.Errorf("one arm: %v", err)
		}
		if _, err := IndependentFloor([]float64{0.5, 0.6}, 0, 10, 1); !errors.Is(err, ErrBadInput) {
			t.Errorf("no episodes: %v", err)
		}
	})
}

// TestSeedFloors: more seeds lower both floors, a perfect model beats
// independent episodes, and arms far apart cannot be misordered.
func TestSeedFloors(t *testing.T) {
	close := []float64{0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6}
	fs, err := SeedFloors(close, []int{20, 200}, 0.05, 400, 1)
	if err != nil {
		t.Fatal(err)
	}
	few, many := fs[0], fs[1]
	if !(many.PerfectMMRV < few.PerfectMMRV && many.IndependentMMRV < few.IndependentMMRV) {
		t.Errorf("200 episodes %+v not below 20 episodes %+v", many, few)
	}
	for _, f := range fs {
		if !(f.PerfectMMRV < f.IndependentMMRV) || f.PerfectAtMost < f.IndependentAtMost {
			t.Errorf("%d episodes: perfect %v (%v at most) not better than independent %v (%v)", f.Episodes, f.PerfectMMRV, f.PerfectAtMost, f.IndependentMMRV, f.IndependentAtMost)
		}
	}
	// Rates 0.5 apart: binomial noise of 200 episodes (sd 0.035) never
	// swaps them.
	far, err := SeedFloors([]float64{0.2, 0.7}, []int{200}, 0.01, 200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if far[0].IndependentMMRV != 0 || far[0].PerfectAtMost != 1 {
		t.Errorf("far-apart arms: %+v, want no violations", far[0])
	}
	if _, err := SeedFloors(close, []int{0}, 0.05, 10, 1); err == nil {
		t.Error("0 episodes accepted")
	}
}
