package latent

import "math"

// drawDisc adds an anti-aliased disc of radius r (pixels) centred at table
// position (x, y) to plane (h x w, row-major) offset by the window origin
// (ox, oy) in frame pixels. Table coordinates map to the frame as
// pixel = position * size / table, pixel centres at i+0.5.
func drawDisc(plane []float32, h, w, ox, oy int, x, y float32, cfg ModelConfig) {
	sx := float64(cfg.FrameW) / cfg.Table
	sy := float64(cfg.FrameH) / cfg.Table
	cx := float64(x)*sx - float64(ox)
	cy := float64(y)*sy - float64(oy)
	r := cfg.AgentRadius * sx
	x0, x1 := max(0, int(math.Floor(cx-r-1))), min(w-1, int(math.Ceil(cx+r+1)))
	y0, y1 := max(0, int(math.Floor(cy-r-1))), min(h-1, int(math.Ceil(cy+r+1)))
	for py := y0; py <= y1; py++ {
		dy := float64(py) + 0.5 - cy
		for px := x0; px <= x1; px++ {
			dx := float64(px) + 0.5 - cx
			v := r + 0.5 - math.Sqrt(dx*dx+dy*dy)
			if v <= 0 {
				continue
			}
			if v > 1 {
				v = 1
			}
			i := py*w + px
			if float32(v) > plane[i] {
				plane[i] = float32(v)
			}
		}
	}
}

// fillPlanes writes the numPlanes input planes of one step for one episode
// into dst (numPlanes*h*w): the agent before the step, after it, and the
// action's target.
func fillPlanes(dst []float32, h, w, ox, oy int, before, after [2]float32, action []float32, cfg ModelConfig) {
	clear(dst)
	n := h * w
	drawDisc(dst[:n], h, w, ox, oy, before[0], before[1], cfg)
	drawDisc(dst[n:2*n], h, w, ox, oy, after[0], after[1], cfg)
	drawDisc(dst[2*n:3*n], h, w, ox, oy, action[0], action[1], cfg)
}

// toCHW converts an HWC uint8 frame window to CHW float32 in 0..1.
func toCHW(dst []float32, frame []uint8, fw, ox, oy, h, w int) {
	n := h * w
	toPlanes(dst[:n], dst[n:2*n], dst[2*n:3*n], frame, fw, ox, oy, h, w)
}

// toPlanes is toCHW with each channel's plane given separately.
func toPlanes(r, g, b []float32, frame []uint8, fw, ox, oy, h, w int) {
	r, g, b = r[:h*w], g[:h*w], b[:h*w]
	for y := 0; y < h; y++ {
		src := frame[((oy+y)*fw+ox)*3:][:3*w]
		for x := 0; x < w; x++ {
			i := y*w + x
			r[i] = byteUnit[src[3*x]]
			g[i] = byteUnit[src[3*x+1]]
			b[i] = byteUnit[src[3*x+2]]
		}
	}
}

// fromCHW converts a CHW float32 frame (0..1) to HWC bytes, rounding.
func fromCHW(dst []uint8, src []float32, h, w int) {
	n := h * w
	fromPlanes(dst, src[:n], src[n:2*n], src[2*n:3*n])
}

// fromPlanes is fromCHW with each channel's plane given separately.
func fromPlanes(dst []uint8, r, g, b []float32) {
	n := len(r)
	dst, g, b = dst[:3*n], g[:n], b[:n]
	for i := 0; i < n; i++ {
		dst[3*i] = toByte(r[i])
		dst[3*i+1] = toByte(g[i])
		dst[3*i+2] = toByte(b[i])
	}
}

// toByte rounds a 0..1 value to 0..255, halves away from zero. v*255 is
// exact in float64 and so is adding the half (a float32 times 255 has at
// most 32 significant bits), so truncating it rounds as math.Round does
// at a fraction of the cost (it runs for every byte of every imagined
// frame).
func toByte(v float32) uint8 {
	f := float64(v) * 255
	if !(f > 0) { // NaN too
		return 0
	}
	if f >= 255 {
		return 255
	}
	return uint8(f + 0.5)
}

// byteUnit[b] is float32(b)/255: the network's input for byte b, looked
// up rather than divided (for every byte of every imagined frame).
var byteUnit = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return t
}()

// fillGate writes the change gate of one step (3*h*w, the same for every
// channel): 1 within cfg.GateRadius of the agent before or after the step,
// else 0; all ones when the gate is disabled.
func fillGate(dst []float32, h, w, ox, oy int, before, after [2]float32, cfg ModelConfig) {
	n := h * w
	gatePlane(dst[:n], h, w, ox, oy, before, after, cfg)
	copy(dst[n:2*n], dst[:n])
	copy(dst[2*n:3*n], dst[:n])
}

// gatePlane writes one channel's plane of the gate (h*w).
func gatePlane(dst []float32, h, w, ox, oy int, before, after [2]float32, cfg ModelConfig) {
	dst = dst[:h*w]
	if cfg.GateRadius <= 0 {
		for i := range dst {
			dst[i] = 1
		}
		return
	}
	clear(dst)
	sx := float64(cfg.FrameW) / cfg.Table
	sy := float64(cfg.FrameH) / cfg.Table
	r := cfg.GateRadius * sx
	r2 := r * r
	for _, p := range [2][2]float32{before, after} {
		cx, cy := float64(p[0])*sx, float64(p[1])*sy
		for y := 0; y < h; y++ {
			dy := float64(oy+y) + 0.5 - cy
			if lo, hi := discSpan(w, ox, cx, dy*dy, r2); lo <= hi {
				row := dst[y*w:][:w]
				for x := lo; x <= hi; x++ {
					row[x] = 1
				}
			}
		}
	}
}

// discSpan returns the columns x in [0, w) of one row whose pixel centre
// is within the disc: dx*dx+dy2 <= r2, dx = ox+x+0.5-cx, the test the
// gate has always made pixel by pixel. The test holds on an interval of
// x (dx*dx rounds monotonically in |dx|), so a square-root estimate of
// its ends, corrected by the test itself, gives the same pixels at the
// cost of a few tests a row. Empty: lo > hi.
func discSpan(w, ox int, cx, dy2, r2 float64) (lo, hi int) {
	if dy2 > r2 {
		return 0, -1
	}
	in := func(x int) bool {
		dx := float64(ox+x) + 0.5 - cx
		return dx*dx+dy2 <= r2
	}
	half := math.Sqrt(r2 - dy2)
	c := cx - float64(ox) - 0.5 // x whose centre is at cx
	lo = max(0, min(w, int(math.Ceil(c-half))))
	hi = min(w-1, max(-1, int(math.Floor(c+half))))
	for lo <= hi && !in(lo) {
		lo++
	}
	for lo > 0 && in(lo-1) {
		lo--
	}
	for hi >= lo && hi >= 0 && !in(hi) {
		hi--
	}
	for hi+1 < w && in(hi+1) {
		hi++
	}
	if lo > hi || !in(lo) {
		return 0, -1
	}
	return lo, hi
}

// snapBlock sharpens the block in a predicted frame (HWC bytes, side w)
// where it differs from the previous frame prev: see ModelConfig.Snap. A
// pixel is unmixed into table white, goal green and block fill; the block
// share is pushed away from one half by gain and the pixel redrawn with the
// same white:green background. Left alone: the pusher (blue, and anything
// within two pixels of its predicted disc at agent), grey and white pixels
// and crisp block fill and edge.
func snapBlock(frame, prev []uint8, w int, gain float64, agent [2]float32, cfg ModelConfig) {
	white := [3]float64{255, 255, 255}
	goal := [3]float64{144, 238, 144}
	fill := [3]float64{143, 163, 184}
	n := len(frame) / 3
	sx := float64(cfg.FrameW) / cfg.Table
	ax, ay := float64(agent[0])*sx, float64(agent[1])*sx
	ar := cfg.AgentRadius*sx + 2
	for p := 0; p < n; p++ {
		q := 3 * p
		r, g, b := frame[q], frame[q+1], frame[q+2]
		if absDiff(r, prev[q])+absDiff(g, prev[q+1])+absDiff(b, prev[q+2]) <= 6 {
			continue
		}
		if int(b)-int(r) > 60 || max(r, g, b)-min(r, g, b) < 8 { // pusher; white table, grey wall
			continue
		}
		y, x := p/w, p%w
		if dx, dy := float64(x)+0.5-ax, float64(y)+0.5-ay; dx*dx+dy*dy <= ar*ar {
			continue
		}
		c := [3]float64{float64(r), float64(g), float64(b)}
		var mix [3]float64 // white, goal, fill
		for i := 0; i < 3; i++ {
			mix[i] = paletteUnmix[i][0]*c[0] + paletteUnmix[i][1]*c[1] + paletteUnmix[i][2]*c[2]
		}
		if mix[0] < -0.15 || mix[1] < -0.15 || mix[2] < -0.15 {
			continue // not a table/goal/block mix
		}
		if mix[2] >= 0.75 && mix[2] <= 1.05 {
			continue // block fill or its edge: already crisp
		}
		f := min(1, max(0, 0.5+gain*(mix[2]-0.5)))
		wa, ga := max(0, mix[0]), max(0, mix[1])
		if wa+ga < 1e-6 {
			wa = 1
		}
		s := wa + ga
		for i := 0; i < 3; i++ {
			bg := (wa*white[i] + ga*goal[i]) / s
			v := math.Round(f*fill[i] + (1-f)*bg)
			frame[q+i] = uint8(min(255, max(0, v)))
		}
	}
}

// paletteUnmix is the inverse of the matrix whose columns are table white,
// goal green and block fill: row i . rgb is the share of colour i.
var paletteUnmix = func() [3][3]float64 {
	m := [3][3]float64{{255, 144, 143}, {255, 238, 163}, {255, 144, 184}}
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	var inv [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			r0, r1 := (j+1)%3, (j+2)%3
			c0, c1 := (i+1)%3, (i+2)%3
			inv[i][j] = (m[r0][c0]*m[r1][c1] - m[r0][c1]*m[r1][c0]) / det
		}
	}
	return inv
}()
