package fidelity

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randomFrame(rng *rand.Rand, n int) []uint8 {
	f := make([]uint8, n)
	for i := range f {
		f[i] = uint8(rng.IntN(256))
	}
	return f
}

func TestPSNR(t *testing.T) {
	const w, h, c = 16, 12, 3
	rng := rand.New(rand.NewPCG(1, 1))
	a := randomFrame(rng, w*h*c)
	shifted := make([]uint8, len(a))
	for i, v := range a {
		shifted[i] = uint8(min(255, int(v)+10))
		if int(v)+10 > 255 {
			shifted[i] = v - 10
		}
	}
	tests := []struct {
		name string
		b    []uint8
		want float64
	}{
		{"identical frames hit the cap", a, PSNRCap},
		{"every value off by 10", shifted, 20 * math.Log10(255.0/10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PSNR(a, tc.b, w, h, c)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("PSNR = %.6f, want %.6f", got, tc.want)
			}
		})
	}
}

// refSSIM is an independent pure-Go Gaussian-window SSIM (separable 11-tap
// kernel with OpenCV's normalisation, reflect-101 borders, 5-pixel border
// left out of the mean), to check the gocv version.
func refSSIM(a, b []uint8, w, h, c int) float64 {
	var k [11]float64
	var ks float64
	for i := range k {
		x := float64(i - 5)
		k[i] = math.Exp(-x * x / (2 * 1.5 * 1.5))
		ks += k[i]
	}
	for i := range k {
		k[i] /= ks
	}
	reflect := func(i, n int) int {
		for i < 0 || i >= n {
			if i < 0 {
				i = -i
			}
			if i >= n {
				i = 2*n - 2 - i
			}
		}
		return i
	}
	blur := func(img []float64) []float64 {
		tmp := make([]float64, w*h)
		out := make([]float64, w*h)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var s float64
				for j := -5; j <= 5; j++ {
					s += k[j+5] * img[y*w+reflect(x+j, w)]
				}
				tmp[y*w+x] = s
			}
		}
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var s float64
				for j := -5; j <= 5; j++ {
					s += k[j+5] * tmp[reflect(y+j, h)*w+x]
				}
				out[y*w+x] = s
			}
		}
		return out
	}
	c1, c2 := math.Pow(0.01*255, 2), math.Pow(0.03*255, 2)
	var total float64
	for ch := 0; ch < c; ch++ {
		x, y := make([]float64, w*h), make([]float64, w*h)
		xx, yy, xy := make([]float64, w*h), make([]float64, w*h), make([]float64, w*h)
		for i := 0; i < w*h; i++ {
			x[i], y[i] = float64(a[i*c+ch]), float64(b[i*c+ch])
			xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
		}
		mx, my, bxx, byy, bxy := blur(x), blur(y), blur(xx), blur(yy), blur(xy)
		var sum float64
		var n int
		for yy0 := 5; yy0 < h-5; yy0++ {
			for xx0 := 5; xx0 < w-5; xx0++ {
				i := yy0*w + xx0
				sxx, syy, sxy := bxx[i]-mx[i]*mx[i], byy[i]-my[i]*my[i], bxy[i]-mx[i]*my[i]
				sum += (2*mx[i]*my[i] + c1) * (2*sxy + c2) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (sxx + syy + c2))
				n++
			}
		}
		total += sum / float64(n)
	}
	return total / float64(c)
}

func TestSSIM(t *testing.T) {
	const w, h, c = 40, 32, 3
	rng := rand.New(rand.NewPCG(2, 2))
	a := randomFrame(rng, w*h*c)
	smooth := make([]uint8, len(a))
	for i := range smooth {
		smooth[i] = uint8((i / c % w) * 6)
	}
	noisy := func(src []uint8, amp int) []uint8 {
		out := make([]uint8, len(src))
		for i, v := range src {
			out[i] = uint8(max(0, min(255, int(v)+rng.IntN(2*amp+1)-amp)))
		}
		return out
	}
	tests := []struct {
		name string
		a, b []uint8
	}{
		{"identical", a, a},
		{"light noise", smooth, noisy(smooth, 10)},
		{"heavy noise", smooth, noisy(smooth, 80)},
		{"unrelated", a, randomFrame(rng, w*h*c)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SSIM(tc.a, tc.b, w, h, c)
			if err != nil {
				t.Fatal(err)
			}
			want := refSSIM(tc.a, tc.b, w, h, c)
			if math.Abs(got-want) > 2e-4 {
				t.Errorf("SSIM = %.6f, reference %.6f", got, want)
			}
		})
	}
	// Ordering: more noise, lower SSIM.
	light, _ := SSIM(smooth, noisy(smooth, 10), w, h, c)
	heavy, _ := SSIM(smooth, noisy(smooth, 80), w, h, c)
	same, _ := SSIM(smooth, smooth, w, h, c)
	if !(same > light && light > heavy) {
		t.Errorf("SSIM not ordered: identical %.4f, light noise %.4f, heavy noise %.4f", same, light, heavy)
	}
	if math.Abs(same-1) > 1e-6 {
		t.Errorf("SSIM of identical frames = %.8f, want 1", same)
	}
}

func TestMetricsBadFrames(t *testing.T) {
	good := make([]uint8, 8*8*3)
	tests := []struct {
		name    string
		a, b    []uint8
		w, h, c int
	}{
		{"short second frame", good, good[:10], 8, 8, 3},
		{"wrong dimensions", good, good, 8, 9, 3},
		{"five channels", good, good, 8, 8, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := PSNR(tc.a, tc.b, tc.w, tc.h, tc.c); !errors.Is(err, ErrBadFrame) {
				t.Errorf("PSNR err = %v, want ErrBadFrame", err)
			}
			if _, err := SSIM(tc.a, tc.b, tc.w, tc.h, tc.c); !errors.Is(err, ErrBadFrame) {
				t.Errorf("SSIM err = %v, want ErrBadFrame", err)
			}
		})
	}
}
