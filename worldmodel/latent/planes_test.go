package latent

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gatePlaneByPixel is the gate as first written, one distance test per
// pixel: the reference the row-span version must match pixel for pixel.
func gatePlaneByPixel(dst []float32, h, w, ox, oy int, before, after [2]float32, cfg ModelConfig) {
	sx := float64(cfg.FrameW) / cfg.Table
	sy := float64(cfg.FrameH) / cfg.Table
	r := cfg.GateRadius * sx
	r2 := r * r
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := float32(0)
			for _, p := range [2][2]float32{before, after} {
				dx := float64(ox+x) + 0.5 - float64(p[0])*sx
				dy := float64(oy+y) + 0.5 - float64(p[1])*sy
				if dx*dx+dy*dy <= r2 {
					v = 1
				}
			}
			dst[y*w+x] = v
		}
	}
}

func TestGatePlaneMatchesPixelTest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name         string
		h, w, ox, oy int
		radius       float64
	}{
		{"full frame", 96, 96, 0, 0, 190},
		{"crop window", 56, 56, 20, 12, 190},
		{"small radius", 96, 96, 0, 0, 7.3},
		{"radius under a pixel", 96, 96, 0, 0, 1.5},
		{"odd sides", 20, 36, 3, 5, 40},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultModelConfig()
			cfg.GateRadius = tc.radius
			got := make([]float32, tc.h*tc.w)
			want := make([]float32, tc.h*tc.w)
			for trial := 0; trial < 300; trial++ {
				pos := func() [2]float32 {
					// Off the table too, and on exact pixel centres
					// and edges, where rounding decides.
					if trial%3 == 0 {
						return [2]float32{float32(rng.IntN(240)-60) * 512 / 192, float32(rng.IntN(240)-60) * 512 / 192}
					}
					return [2]float32{float32(rng.Float64()*700 - 100), float32(rng.Float64()*700 - 100)}
				}
				before, after := pos(), pos()
				gatePlane(got, tc.h, tc.w, tc.ox, tc.oy, before, after, cfg)
				gatePlaneByPixel(want, tc.h, tc.w, tc.ox, tc.oy, before, after, cfg)
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("before %v after %v: pixel (%d,%d) = %v, the pixel test says %v", before, after, i%tc.w, i/tc.w, got[i], want[i])
					}
				}
			}
		})
	}
}

func TestToByteRoundsAsMathRound(t *testing.T) {
	ref := func(v float32) uint8 {
		f := math.Round(float64(v) * 255)
		return uint8(min(255, max(0, f)))
	}
	vals := []float32{0, -0.0, 1, -1, 2, 1e-30, -1e-30, 0.5 / 255, 1.5 / 255, 254.5 / 255, math.Nextafter32(0.5/255, 0), math.Nextafter32(0.5/255, 1), float32(math.Inf(1)), float32(math.Inf(-1))}
	for k := 0; k < 256; k++ {
		c := (float32(k) + 0.5) / 255
		vals = append(vals, c, math.Nextafter32(c, 0), math.Nextafter32(c, 2), float32(k)/255)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200000; i++ {
		vals = append(vals, float32(rng.Float64()*1.2-0.1))
	}
	for _, v := range vals {
		if got, want := toByte(v), ref(v); got != want {
			t.Fatalf("toByte(%v) = %d, math.Round gives %d", v, got, want)
		}
	}
	if got := toByte(float32(math.NaN())); got != 0 {
		t.Errorf("toByte(NaN) = %d, want 0", got)
	}
}

func TestByteUnit(t *testing.T) {
	for b := 0; b < 256; b++ {
		if byteUnit[b] != float32(b)/255 {
			t.Fatalf("byteUnit[%d] = %v, want %v", b, byteUnit[b], float32(b)/255)
		}
	}
}
