package tabletop

import (
	"math"
	"testing"
)

func square(x0, y0, side float64) [4]Vec2 {
	return [4]Vec2{{x0, y0}, {x0 + side, y0}, {x0 + side, y0 + side}, {x0, y0 + side}}
}

func TestOverlapArea(t *testing.T) {
	diamond := [4]Vec2{{5, 0}, {10, 5}, {5, 10}, {0, 5}} // inscribed in square(0,0,10)
	cw := square(0, 0, 10)
	cw[1], cw[3] = cw[3], cw[1]
	tests := []struct {
		name string
		a, b [4]Vec2
		want float64
	}{
		{"identical", square(0, 0, 10), square(0, 0, 10), 100},
		{"disjoint", square(0, 0, 10), square(20, 0, 10), 0},
		{"touching edge", square(0, 0, 10), square(10, 0, 10), 0},
		{"half", square(0, 0, 10), square(5, 0, 10), 50},
		{"quarter", square(0, 0, 10), square(5, 5, 10), 25},
		{"inside", square(0, 0, 10), square(2, 2, 4), 16},
		{"diamond in square", diamond, square(0, 0, 10), 50},
		{"clockwise clip", square(5, 0, 10), cw, 50},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := OverlapArea(&tc.a, &tc.b); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("OverlapArea = %v, want %v", got, tc.want)
			}
			if got := OverlapArea(&tc.b, &tc.a); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("swapped: %v, want %v", got, tc.want)
			}
		})
	}
}
