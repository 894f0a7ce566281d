package slots

import (
	"math"
	"testing"
)

// An object is stopped where the room ends, moves freely inside it, and
// is not held back when it starts outside (the room was learned from
// other frames).
func TestRoomConstrains(t *testing.T) {
	// A 20x10 room whose columns 15.. are a wall.
	r := &room{w: 20, h: 10, allowed: make([]float32, 200)}
	for y := range 10 {
		for x := range 15 {
			r.allowed[y*20+x] = 1
		}
	}
	square := [][2]float64{{-1, -1}, {1, -1}, {-1, 1}, {1, 1}}
	tests := []struct {
		name     string
		from, to Pose
		wantX    float64
	}{
		{"free move", Pose{5, 5, 0}, Pose{8, 5, 0}, 8},
		{"into the wall", Pose{5, 5, 0}, Pose{17, 5, 0}, 13.9},
		{"starting in the wall", Pose{16, 5, 0}, Pose{18, 5, 0}, 18},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := r.constrain(square, tc.from, tc.to)
			if math.Abs(got.X-tc.wantX) > 0.25 {
				t.Fatalf("moved to x=%.2f, want %.2f (within a quarter pixel)", got.X, tc.wantX)
			}
		})
	}
}
