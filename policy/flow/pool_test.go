package flow

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// pool2 is poolAny for f = 2 byte for byte: same sums, same rounding,
// also where the sides are odd (the last row and column are dropped).
func TestPool2MatchesPoolAny(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, tc := range []struct {
		name string
		h, w int
	}{{"camera frame", 96, 96}, {"wide", 10, 14}, {"odd sides", 7, 9}} {
		t.Run(tc.name, func(t *testing.T) {
			frame := make([]uint8, tc.h*tc.w*3)
			for i := range frame {
				frame[i] = uint8(rng.IntN(256))
			}
			n := 3 * (tc.h / 2) * (tc.w / 2)
			got, want := make([]uint8, n), make([]uint8, n)
			pool2(got, frame, tc.h, tc.w)
			poolAny(want, frame, tc.h, tc.w, 2)
			if !bytes.Equal(got, want) {
				t.Fatalf("pool2 differs from poolAny")
			}
		})
	}
}
