package flow

import (
	"math"
	"testing"
)

// expf is within 2 ulp of e^x over the range the softmax and SiLU see,
// and exact at the edges that matter (0 and 1, overflow, underflow).
func TestExpf(t *testing.T) {
	worst := 0.0
	for x := float32(-87); x < 88; x += 0.0137 {
		want := math.Exp(float64(x))
		got := float64(expf(x))
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
			if got := expf(tc.x); got != tc.want {
				t.Errorf("expf(%v) = %v, want %v", tc.x, got, tc.want)
			}
		})
	}
	if got := expf(float32(math.NaN())); got == got {
		t.Errorf("expf(NaN) = %v", got)
	}
}

func BenchmarkExpf(b *testing.B) {
	var s float32
	for i := 0; b.Loop(); i++ {
		s += expf(-float32(i&1023) / 100)
	}
	_ = s
}
