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
	for y := 0; y < h; y++ {
		src := frame[((oy+y)*fw+ox)*3:]
		for x := 0; x < w; x++ {
			i := y*w + x
			dst[i] = float32(src[3*x]) / 255
			dst[n+i] = float32(src[3*x+1]) / 255
			dst[2*n+i] = float32(src[3*x+2]) / 255
		}
	}
}

// fromCHW converts a CHW float32 frame (0..1) to HWC bytes, rounding.
func fromCHW(dst []uint8, src []float32, h, w int) {
	n := h * w
	for i := 0; i < n; i++ {
		for c := 0; c < 3; c++ {
			v := math.Round(float64(src[c*n+i]) * 255)
			if v < 0 {
				v = 0
			} else if v > 255 {
				v = 255
			}
			dst[3*i+c] = uint8(v)
		}
	}
}

// fillGate writes the change gate of one step (3*h*w, the same for every
// channel): 1 within cfg.GateRadius of the agent before or after the step,
// else 0; all ones when the gate is disabled.
func fillGate(dst []float32, h, w, ox, oy int, before, after [2]float32, cfg ModelConfig) {
	n := h * w
	if cfg.GateRadius <= 0 {
		for i := range dst[:3*n] {
			dst[i] = 1
		}
		return
	}
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
			i := y*w + x
			dst[i], dst[n+i], dst[2*n+i] = v, v, v
		}
	}
}
