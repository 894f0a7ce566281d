package slots

// Background is the per-pixel, per-channel median of frames (each H*W*C
// bytes): under a fixed camera every pixel shows the static scene in most
// frames, and moving objects cover any one pixel only now and then.
func Background(frames [][]uint8, n int) []float32 {
	if len(frames) == 0 {
		return nil
	}
	hist := make([]uint16, n*256)
	for _, f := range frames {
		for i, v := range f[:n] {
			hist[i*256+int(v)]++
		}
	}
	half := (len(frames) + 1) / 2
	out := make([]float32, n)
	for i := range n {
		acc := 0
		for v, c := range hist[i*256 : (i+1)*256] {
			acc += int(c)
			if acc >= half {
				out[i] = float32(v)
				break
			}
		}
	}
	return out
}

// diffMap is, per pixel, the largest channel difference between a frame
// and the background.
func diffMap(frame []uint8, bg []float32, h, w, c int) []float32 {
	out := make([]float32, h*w)
	for p := range h * w {
		var d float32
		for k := range c {
			v := float32(frame[p*c+k]) - bg[p*c+k]
			if v < 0 {
				v = -v
			}
			d = max(d, v)
		}
		out[p] = d
	}
	return out
}

// blob is one connected region of pixels that differ from the background.
type blob struct {
	pix  []int // pixel indices y*W+x
	mean []float64
	cx   float64
	cy   float64
}

// blobs finds the 8-connected regions of diff >= thresh with at least
// minArea pixels.
func blobs(frame []uint8, diff []float32, h, w, c int, thresh float32, minArea int) []blob {
	seen := make([]bool, h*w)
	var out []blob
	var stack []int
	for start := range h * w {
		if seen[start] || diff[start] < thresh {
			continue
		}
		b := blob{mean: make([]float64, c)}
		seen[start] = true
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			b.pix = append(b.pix, p)
			py, px := p/w, p%w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					y, x := py+dy, px+dx
					if y < 0 || x < 0 || y >= h || x >= w {
						continue
					}
					q := y*w + x
					if !seen[q] && diff[q] >= thresh {
						seen[q] = true
						stack = append(stack, q)
					}
				}
			}
		}
		if len(b.pix) < minArea {
			continue
		}
		for _, p := range b.pix {
			for k := range c {
				b.mean[k] += float64(frame[p*c+k])
			}
			b.cx += float64(p%w) + 0.5
			b.cy += float64(p/w) + 0.5
		}
		n := float64(len(b.pix))
		for k := range c {
			b.mean[k] /= n
		}
		b.cx /= n
		b.cy /= n
		out = append(out, b)
	}
	return out
}
