package video

// SideBySide puts two RGB frames of w x h next to each other: a on the
// left, b on the right, giving a (2w) x h frame. Used for imagined-versus-
// real comparisons. It panics if a frame has the wrong size, like slicing.
func SideBySide(a, b []uint8, w, h int) []uint8 {
	row := w * 3
	if len(a) != row*h || len(b) != row*h {
		panic("video.SideBySide: frame size does not match w x h x 3")
	}
	out := make([]uint8, 2*row*h)
	for y := 0; y < h; y++ {
		copy(out[2*row*y:], a[row*y:row*(y+1)])
		copy(out[2*row*y+row:], b[row*y:row*(y+1)])
	}
	return out
}

// Upscale enlarges an RGB frame by an integer factor with nearest-
// neighbour sampling, so 96x96 frames are watchable without blurring the
// pixels a model actually saw.
func Upscale(frame []uint8, w, h, factor int) []uint8 {
	if factor <= 1 {
		return append([]uint8(nil), frame...)
	}
	if len(frame) != w*h*3 {
		panic("video.Upscale: frame size does not match w x h x 3")
	}
	W := w * factor
	out := make([]uint8, W*h*factor*3)
	for y := 0; y < h; y++ {
		line := out[(y*factor)*W*3 : (y*factor+1)*W*3]
		for x := 0; x < w; x++ {
			p := frame[(y*w+x)*3 : (y*w+x)*3+3]
			for k := 0; k < factor; k++ {
				copy(line[(x*factor+k)*3:], p)
			}
		}
		for k := 1; k < factor; k++ {
			copy(out[(y*factor+k)*W*3:], line)
		}
	}
	return out
}

// UpscaledWriter is NewWriter(Options{Scale: factor}): H.264 video of the
// frames enlarged by factor, with WriteMP4's signature.
func UpscaledWriter(factor int) func(path string, frames [][]uint8, w, h int, fps float64) error {
	return NewWriter(Options{Scale: factor})
}
