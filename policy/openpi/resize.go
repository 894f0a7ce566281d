package openpi

import "math"

// This file resizes camera frames in pure Go (foundation/raster's resize
// needs gocv, which the policy layer should not): PIL's BILINEAR filter,
// whose support widens when shrinking so every source pixel counts, as
// openpi's clients resize with PIL (openpi_client/image_tools.py).

// resize scales an HWC uint8 frame of shape from to h x w. Unless stretch
// is set it keeps the aspect ratio: the frame is scaled to fit and centred
// on black, with resize_with_pad's rounding. A frame already h x w is
// returned as is.
func resize(src []uint8, from shape, h, w int, stretch bool) []uint8 {
	if from.H == h && from.W == w {
		return src
	}
	if stretch {
		return bilinear(src, from, h, w)
	}
	ratio := max(float64(from.W)/float64(w), float64(from.H)/float64(h))
	rh := min(h, max(1, int(float64(from.H)/ratio)))
	rw := min(w, max(1, int(float64(from.W)/ratio)))
	inner := bilinear(src, from, rh, rw)
	out := make([]uint8, h*w*from.C)
	top, left := (h-rh)/2, (w-rw)/2
	row := rw * from.C
	for y := range rh {
		copy(out[((top+y)*w+left)*from.C:], inner[y*row:(y+1)*row])
	}
	return out
}

// bilinear resizes without keeping the aspect ratio, separably: rows
// first, then columns, in float32, rounded once at the end.
func bilinear(src []uint8, from shape, h, w int) []uint8 {
	if from.H == h && from.W == w {
		return src
	}
	c := from.C
	xs, ys := taps(from.W, w), taps(from.H, h)
	tmp := make([]float32, from.H*w*c)
	for y := range from.H {
		for x, t := range xs {
			for ch := range c {
				var acc float32
				for k, wt := range t.w {
					acc += wt * float32(src[(y*from.W+t.start+k)*c+ch])
				}
				tmp[(y*w+x)*c+ch] = acc
			}
		}
	}
	out := make([]uint8, h*w*c)
	for y, t := range ys {
		for x := range w {
			for ch := range c {
				var acc float32
				for k, wt := range t.w {
					acc += wt * tmp[((t.start+k)*w+x)*c+ch]
				}
				out[(y*w+x)*c+ch] = clampByte(acc)
			}
		}
	}
	return out
}

// tap is one output pixel's source window: the first source index and the
// normalised weights.
type tap struct {
	start int
	w     []float32
}

// taps are PIL's bilinear weights from in pixels to out along one axis: a
// triangle of radius one source pixel, widened by the shrink factor.
func taps(in, out int) []tap {
	scale := float64(in) / float64(out)
	support := max(scale, 1)
	ts := make([]tap, out)
	for i := range ts {
		center := (float64(i) + 0.5) * scale
		lo := max(0, int(center-support+0.5))
		hi := min(in, int(center+support+0.5))
		ws := make([]float32, 0, max(hi-lo, 1))
		var sum float64
		for j := lo; j < hi; j++ {
			x := math.Abs((float64(j) - center + 0.5) / support)
			v := max(0, 1-x)
			ws = append(ws, float32(v))
			sum += v
		}
		if sum == 0 { // cannot happen for in, out >= 1; keep the nearest pixel
			lo, ws, sum = min(int(center), in-1), []float32{1}, 1
		}
		for k := range ws {
			ws[k] = float32(float64(ws[k]) / sum)
		}
		ts[i] = tap{start: lo, w: ws}
	}
	return ts
}

func clampByte(v float32) uint8 {
	switch {
	case !(v > 0):
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
