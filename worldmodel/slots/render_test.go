package slots

import (
	"math"
	"math/rand/v2"
	"testing"
)

// referenceRender is Scene.Render as it was before the renderer skipped
// the pixels no sprite cell reaches and rounded only the sprites' bounds:
// every pixel of the union of the sprites' bounds sampled and rounded
// (float64 rounding). The test below holds the fast renderer to it.
func referenceRender(sc *Scene, poses []Pose) []uint8 {
	out := make([]uint8, len(sc.Background))
	for i, v := range sc.Background {
		out[i] = uint8(math.Round(math.Min(255, math.Max(0, float64(v)))))
	}
	if len(sc.Sprites) == 0 {
		return out
	}
	reg := sc.bounds(sc.Sprites[0], poses[0])
	for k, s := range sc.Sprites[1:] {
		reg = reg.union(sc.bounds(s, poses[k+1]))
	}
	ch := sc.C
	dst := make([]float32, len(sc.Background))
	col := make([]float32, ch)
	for y := reg.y0; y < reg.y1; y++ {
		copy(dst[(y*sc.W+reg.x0)*ch:(y*sc.W+reg.x1)*ch], sc.Background[(y*sc.W+reg.x0)*ch:(y*sc.W+reg.x1)*ch])
	}
	for k, s := range sc.Sprites {
		p := poses[k]
		b := sc.bounds(s, p)
		b = region{max(b.x0, reg.x0), max(b.y0, reg.y0), min(b.x1, reg.x1), min(b.y1, reg.y1)}
		sn, cs := math.Sincos(p.A)
		for y := b.y0; y < b.y1; y++ {
			dy := float64(y) + 0.5 - p.Y
			for x := b.x0; x < b.x1; x++ {
				dx := float64(x) + 0.5 - p.X
				a := referenceSample(s, cs*dx+sn*dy, -sn*dx+cs*dy, ch, col)
				if a == 0 {
					continue
				}
				o := dst[(y*sc.W+x)*ch:]
				for c := range ch {
					o[c] = col[c] + (1-a)*o[c]
				}
			}
		}
	}
	for y := reg.y0; y < reg.y1; y++ {
		for i := (y*sc.W + reg.x0) * ch; i < (y*sc.W+reg.x1)*ch; i++ {
			out[i] = uint8(math.Round(math.Min(255, math.Max(0, float64(dst[i])))))
		}
	}
	return out
}

// referenceSample is Sprite.sample as it was.
func referenceSample(s *Sprite, lx, ly float64, ch int, col []float32) float32 {
	fx, fy := gridPos(lx, ly, s.Side, s.Scale)
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	for c := range ch {
		col[c] = 0
	}
	if x0 < -1 || y0 < -1 || x0 >= s.Side || y0 >= s.Side {
		return 0
	}
	wx, wy := float32(fx-float64(x0)), float32(fy-float64(y0))
	var a float32
	for k := range 4 {
		x, y := x0+k%2, y0+k/2
		if x < 0 || y < 0 || x >= s.Side || y >= s.Side {
			continue
		}
		w := cornerWeight(k, wx, wy)
		i := y*s.Side + x
		a += w * s.Alpha[i]
		for c := range ch {
			col[c] += w * s.Premul[i*ch+c]
		}
	}
	return a
}

// The renderer draws what the reference draws. Tolerance: none expected
// (the same float operations per drawn pixel; the pixels it skips have no
// sprite cell around them), but a compiler may fuse a multiply-add in one
// and not the other on some CPUs (arm64), which moves a value by an ulp
// and a byte only at a half grey level: at most 1e-4 of the bytes may
// differ, by one level.
func TestRenderMatchesReference(t *testing.T) {
	committed, err := Load("../../checkpoints/pusht-slots")
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Model{"tiny": tinyModel(t), "committed": committed} {
		t.Run(name, func(t *testing.T) { renderMatchesReference(t, m.d.scene) })
	}
}

func renderMatchesReference(t *testing.T, sc *Scene) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		margin float64 // how far beyond the frame poses may fall (pixels)
		apart  bool    // objects far apart (a large union of bounds)
	}{
		{"inside the frame", 0, false},
		{"across the edges", 20, false},
		{"far apart", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			differ, worst, total := 0, 0, 0
			for range 200 {
				poses := make([]Pose, len(sc.Sprites))
				for k := range poses {
					x := -tc.margin + rng.Float64()*(float64(sc.W)+2*tc.margin)
					y := -tc.margin + rng.Float64()*(float64(sc.H)+2*tc.margin)
					if tc.apart {
						x, y = float64(k%2)*float64(sc.W-1), float64(k%2)*float64(sc.H-1)
					}
					poses[k] = Pose{x, y, (rng.Float64() - 0.5) * 20}
				}
				got, want := sc.Render(poses), referenceRender(sc, poses)
				for i := range got {
					if d := int(got[i]) - int(want[i]); d != 0 {
						differ++
						worst = max(worst, d, -d)
					}
				}
				total += len(got)
			}
			t.Logf("%d of %d bytes differ from the reference, by up to %d", differ, total, worst)
			if worst > 1 || float64(differ) > 1e-4*float64(total) {
				t.Errorf("%d of %d bytes differ from the reference, by up to %d", differ, total, worst)
			}
		})
	}
}

// BenchmarkRender: the renderer and the reference on the committed
// checkpoint's scene, objects at random poses inside the frame.
func BenchmarkRender(b *testing.B) {
	m, err := Load("../../checkpoints/pusht-slots")
	if err != nil {
		b.Fatal(err)
	}
	sc := m.d.scene
	rng := rand.New(rand.NewPCG(5, 6))
	var poses [][]Pose
	for range 64 {
		var p []Pose
		for range sc.Sprites {
			p = append(p, Pose{rng.Float64() * float64(sc.W), rng.Float64() * float64(sc.H), rng.Float64() * 6})
		}
		poses = append(poses, p)
	}
	for name, render := range map[string]func([]Pose) []uint8{"fast": sc.Render, "reference": func(p []Pose) []uint8 { return referenceRender(sc, p) }} {
		b.Run(name, func(b *testing.B) {
			for i := range b.N {
				render(poses[i%len(poses)])
			}
		})
	}
}

// toByte rounds as math.Round of the clamped value does: every float32
// within a few ulps of each half grey level, of each level, of the ends,
// and random values.
func TestToByte(t *testing.T) {
	want := func(v float32) uint8 { return uint8(math.Round(math.Min(255, math.Max(0, float64(v))))) }
	var vs []float32
	for k := -2; k <= 258; k++ {
		for _, c := range []float32{float32(k), float32(k) + 0.5} {
			up, down := c, c
			for range 8 {
				vs = append(vs, up, down)
				up, down = math.Nextafter32(up, 1e9), math.Nextafter32(down, -1e9)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		vs = append(vs, float32(rng.Float64()*260-2))
	}
	for _, v := range vs {
		if got := toByte(v); got != want(v) {
			t.Fatalf("toByte(%v) = %d, want %d", v, got, want(v))
		}
	}
}
