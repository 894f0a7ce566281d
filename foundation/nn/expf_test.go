package nn

import (
	"math"
	"testing"
)

// Expf is within 2 ulp of e^x over the range the softmax and SiLU see,
// and exact at the edges that matter (0 and 1, overflow, underflow).
func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(Expf(x))
		ulp := float64(math.Nextafter32(float32(want), float32(math.Inf(1)))) - float64(float32(want))
		if d := math.Abs(got-want) / ulp; d > worst {
			worst = d
		}
	}
	t.Logf("max error %.2f ulp", worst)
	if worst > 2 {
		t.Errorf("max error %.2f ulp", worst)
	}
	tests := []struct {
		name string
		x    float32
		want float32
	}{
		{"zero", 0, 1},
		{"overflow", 100, float32(math.Inf(1))},
		{"underflow", -100, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Expf(tc.x); got != tc.want {
				t.Errorf("Expf(%v) = %v, want %v", tc.x, got, tc.want)
			}
		})
	}
	if got := Expf(float32(math.NaN())); got == got {
		t.Errorf("Expf(NaN) = %v", got)
	}
}

func BenchmarkExpf(b *testing.B) {
	var s float32
	for i := 0; b.Loop(); i++ {
		s += Expf(-float32(i&1023) / 100)
	}
	_ = s
}

// SiLU agrees with x/(1+e^-x) in float64 to float32 rounding over the
// range activations take, saturating to 0 and x far out.
func TestSiLUf(t *testing.T) {
	for x := float32(-40); x < 40; x += 0.0173 {
		want := float64(x) / (1 + math.Exp(-float64(x)))
		if got := float64(SiLUf(x)); math.Abs(got-want) > 4e-7*math.Max(1, math.Abs(want)) {
			t.Fatalf("SiLUf(%v) = %v, want %v", x, got, want)
		}
	}
	for _, x := range []float32{-200, 200} {
		if got, want := SiLUf(x), max(x, 0); got != want && math.Abs(float64(got)) > 1e-30 {
			t.Errorf("SiLUf(%v) = %v, want %v", x, got, want)
		}
	}
}
