package pusht

import (
	"image"
	"math/rand/v2"
	"testing"

	"gocv.io/x/gocv"
)

// components finds what OpenCV's connectedComponentsWithStats finds (8
// neighbours): the same partition of the pixels (labels may be numbered
// otherwise: compared through a one-to-one map), areas and boxes.
func TestComponentsMatchOpenCV(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	cases := []struct {
		name    string
		size    int
		density float64 // share of set pixels before growing blobs
		grow    int
	}{
		{"specks", 96, 0.05, 0},
		{"blobs", 96, 0.01, 3},
		{"nearly full", 32, 0.6, 1},
		{"empty", 20, 0, 0},
		{"tiny", 3, 0.5, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c components
			for trial := 0; trial < 20; trial++ {
				n := tc.size * tc.size
				mask := make([]uint8, n)
				for i := range mask {
					if rng.Float64() < tc.density {
						mask[i] = 255
					}
				}
				for g := 0; g < tc.grow; g++ {
					next := append([]uint8(nil), mask...)
					for i := range mask {
						if mask[i] != 0 && rng.IntN(2) == 0 {
							if j := i + 1 + tc.size*rng.IntN(2); j < n {
								next[j] = 255
							}
						}
					}
					mask = next
				}
				count := c.find(mask, tc.size)
				compareWithOpenCV(t, &c, count, mask, tc.size)
			}
		})
	}
}

func compareWithOpenCV(t *testing.T, c *components, count int, mask []uint8, size int) {
	t.Helper()
	src, err := gocv.NewMatFromBytes(size, size, gocv.MatTypeCV8UC1, mask)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	labels, stats, cents := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer labels.Close()
	defer stats.Close()
	defer cents.Close()
	want := gocv.ConnectedComponentsWithStats(src, &labels, &stats, &cents)
	if count != want {
		t.Fatalf("%d labels, OpenCV %d", count, want)
	}
	toCV, fromCV := make([]int, count), make([]int, count)
	for i := range mask {
		ours, theirs := int(c.labels[i]), int(labels.GetIntAt(i/size, i%size))
		if (ours == 0) != (theirs == 0) {
			t.Fatalf("pixel %d: label %d, OpenCV %d", i, ours, theirs)
		}
		if ours == 0 {
			continue
		}
		if toCV[ours] == 0 && fromCV[theirs] == 0 {
			toCV[ours], fromCV[theirs] = theirs, ours
		}
		if toCV[ours] != theirs || fromCV[theirs] != ours {
			t.Fatalf("pixel %d: component %d here, %d in OpenCV, not one to one", i, ours, theirs)
		}
	}
	for l := 1; l < count; l++ {
		cv := toCV[l]
		x, y := int(stats.GetIntAt(cv, int(gocv.CC_STAT_LEFT))), int(stats.GetIntAt(cv, int(gocv.CC_STAT_TOP)))
		w, h := int(stats.GetIntAt(cv, int(gocv.CC_STAT_WIDTH))), int(stats.GetIntAt(cv, int(gocv.CC_STAT_HEIGHT)))
		if area := int(stats.GetIntAt(cv, int(gocv.CC_STAT_AREA))); c.area[l] != area {
			t.Fatalf("component %d: area %d, OpenCV %d", l, c.area[l], area)
		}
		if box := image.Rect(x, y, x+w, y+h); c.box[l] != box {
			t.Fatalf("component %d: box %v, OpenCV %v", l, c.box[l], box)
		}
	}
}
