package legacyrng

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
)

// golden holds values printed by NumPy 1.24's np.random.RandomState
// (testdata/numpy_golden.json; numbers only).
type golden struct {
	NumpyVersion string `json:"numpy_version"`
	Cases        []struct {
		Seed         uint32    `json:"seed"`
		Uint32       []uint32  `json:"uint32"`
		RandomSample []float64 `json:"random_sample"`
		Randn        []float64 `json:"randn"`
		Randint      []struct {
			Low    int64   `json:"low"`
			High   int64   `json:"high"`
			Values []int64 `json:"values"`
		} `json:"randint"`
	} `json:"cases"`
	Resets []struct {
		Seed  uint32     `json:"seed"`
		State [5]float64 `json:"state"`
	} `json:"resets"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/numpy_golden.json")
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("parse golden: %v", err)
	}
	return g
}

// closeULP accepts the last-bit differences Go's math.Log may have from glibc.
func closeULP(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-14*math.Max(1, math.Abs(b))
}

func TestRandomStateMatchesNumpy(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Cases {
		t.Run("seed="+strconv.FormatUint(uint64(c.Seed), 10), func(t *testing.T) {
			tests := []struct {
				name string
				run  func(t *testing.T)
			}{
				{"uint32", func(t *testing.T) {
					r := New(c.Seed)
					for i, want := range c.Uint32 {
						if got := r.Uint32(); got != want {
							t.Fatalf("draw %d: got %d want %d", i, got, want)
						}
					}
				}},
				{"random_sample", func(t *testing.T) {
					r := New(c.Seed)
					for i, want := range c.RandomSample {
						if got := r.RandomSample(); got != want {
							t.Fatalf("draw %d: got %.17g want %.17g", i, got, want)
						}
					}
				}},
				{"randn", func(t *testing.T) {
					r := New(c.Seed)
					for i, want := range c.Randn {
						if got := r.Randn(); !closeULP(got, want) {
							t.Fatalf("draw %d: got %.17g want %.17g", i, got, want)
						}
					}
				}},
				{"randint", func(t *testing.T) {
					// One RandomState across all ranges, as in the golden script.
					r := New(c.Seed)
					for _, ri := range c.Randint {
						for i, want := range ri.Values {
							if got := r.Randint(ri.Low, ri.High); got != want {
								t.Fatalf("randint(%d,%d) draw %d: got %d want %d", ri.Low, ri.High, i, got, want)
							}
						}
					}
				}},
			}
			for _, tc := range tests {
				t.Run(tc.name, tc.run)
			}
		})
	}
}

// TestPushTResetDraws checks the exact draw sequence of the reference reset.
func TestPushTResetDraws(t *testing.T) {
	g := loadGolden(t)
	for _, rs := range g.Resets {
		r := New(rs.Seed)
		got := [5]float64{
			float64(r.Randint(50, 450)), float64(r.Randint(50, 450)),
			float64(r.Randint(100, 400)), float64(r.Randint(100, 400)),
			r.Randn()*2*math.Pi - math.Pi,
		}
		for i := range got {
			if !closeULP(got[i], rs.State[i]) {
				t.Errorf("seed %d: state %v want %v", rs.Seed, got, rs.State)
				break
			}
		}
	}
}

func TestRandintPanicsOnEmptyRange(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Randint(3, 3) did not panic")
		}
	}()
	New(0).Randint(3, 3)
}
