package slots

import (
	"fmt"
	"math"
	"sort"
)

// class is what discovery learns of one object before its sprite: its
// mean colour (of the pixels that clearly differ from the background) and
// its median area in pixels.
type class struct {
	colour []float64
	area   float64
}

// instance is one sighting of an object standing clear of the others: the
// frame and the pixels around it (the blob grown by a border, so the
// anti-aliased edge is in).
type instance struct {
	frame int
	pix   []int
}

// discovery is the objects found in a sample of frames.
type discovery struct {
	classes   []class
	instances [][]instance // per class
	// counts[n] is how many frames showed n separate objects.
	counts map[int]int
}

// discover finds the scene's objects: the number of objects is the largest
// number of separate regions that differ from the background seen in at
// least a tenth of the frames (objects that touch merge into one region, so
// fewer is common, more is rare), and the regions of those frames are
// grouped by colour and size (k-means) into the objects.
func discover(frames [][]uint8, bg []float32, h, w, c int, cfg SceneConfig) (*discovery, error) {
	per := make([][]blob, len(frames))
	d := &discovery{counts: map[int]int{}}
	for i, f := range frames {
		per[i] = blobs(f, diffMap(f, bg, h, w, c), h, w, c, float32(cfg.DiffThreshold), cfg.MinArea)
		d.counts[len(per[i])]++
	}
	k := 0
	for n, cnt := range d.counts {
		if n > k && float64(cnt) >= 0.1*float64(len(frames)) {
			k = n
		}
	}
	if k == 0 {
		return nil, fmt.Errorf("%w: no frame of %d shows an object that differs from the background (counts by objects seen: %v)", ErrNoData, len(frames), d.counts)
	}
	var sel []int // frames showing k separate objects
	for i := range frames {
		if len(per[i]) == k {
			sel = append(sel, i)
		}
	}
	feat := func(b blob) []float64 {
		f := make([]float64, c+1)
		for j := range c {
			f[j] = b.mean[j] / 255
		}
		f[c] = math.Log(float64(len(b.pix))) / 4
		return f
	}
	cent := make([][]float64, k)
	for j, b := range per[sel[0]] {
		cent[j] = feat(b)
	}
	assign := func(b blob) int {
		best, bd := 0, math.Inf(1)
		for j, ct := range cent {
			var s float64
			for q, v := range feat(b) {
				s += (v - ct[q]) * (v - ct[q])
			}
			if s < bd {
				best, bd = j, s
			}
		}
		return best
	}
	for range 10 {
		sum := make([][]float64, k)
		n := make([]int, k)
		for j := range sum {
			sum[j] = make([]float64, c+1)
		}
		for _, i := range sel {
			for _, b := range per[i] {
				j := assign(b)
				n[j]++
				for q, v := range feat(b) {
					sum[j][q] += v
				}
			}
		}
		for j := range cent {
			if n[j] > 0 {
				for q := range sum[j] {
					cent[j][q] = sum[j][q] / float64(n[j])
				}
			}
		}
	}
	d.classes = make([]class, k)
	d.instances = make([][]instance, k)
	areas := make([][]float64, k)
	for j := range d.classes {
		d.classes[j].colour = make([]float64, c)
		for q := range c {
			d.classes[j].colour[q] = cent[j][q] * 255
		}
	}
	for _, i := range sel {
		js := make([]int, k)
		used := map[int]bool{}
		for bi, b := range per[i] {
			js[bi] = assign(b)
			used[js[bi]] = true
		}
		if len(used) != k {
			continue // two regions look like the same object: not a clean sighting
		}
		grown := grow(per[i], h, w, cfg.Border)
		for bi, b := range per[i] {
			d.instances[js[bi]] = append(d.instances[js[bi]], instance{frame: i, pix: grown[bi]})
			areas[js[bi]] = append(areas[js[bi]], float64(len(b.pix)))
		}
	}
	for j := range d.classes {
		if len(areas[j]) == 0 {
			return nil, fmt.Errorf("%w: object %d of %d was never seen clear of the others", ErrNoData, j, k)
		}
		sort.Float64s(areas[j])
		d.classes[j].area = areas[j][len(areas[j])/2]
	}
	return d, nil
}

// grow adds to every blob the pixels within border steps (8-neighbour) of
// it that no other blob reaches first, so each keeps its anti-aliased edge.
func grow(bs []blob, h, w, border int) [][]int {
	owner := make([]int, h*w)
	for i := range owner {
		owner[i] = -1
	}
	out := make([][]int, len(bs))
	front := make([][]int, len(bs))
	for j, b := range bs {
		for _, p := range b.pix {
			owner[p] = j
		}
		out[j] = append([]int(nil), b.pix...)
		front[j] = b.pix
	}
	for range border {
		for j := range bs {
			var next []int
			for _, p := range front[j] {
				py, px := p/w, p%w
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						y, x := py+dy, px+dx
						if y < 0 || x < 0 || y >= h || x >= w || owner[y*w+x] >= 0 {
							continue
						}
						owner[y*w+x] = j
						next = append(next, y*w+x)
					}
				}
			}
			out[j] = append(out[j], next...)
			front[j] = next
		}
	}
	return out
}
