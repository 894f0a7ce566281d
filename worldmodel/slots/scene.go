package slots

import (
	"math"
	"slices"
	"sync"
)

// Pose places an object in the frame: its sprite's origin at (X, Y) frame
// pixels (x right, y down), turned by A radians (unwrapped, so a rollout's
// angle never jumps by 2pi).
type Pose struct{ X, Y, A float64 }

// local maps a frame point into the object's own frame (frame pixels).
func (p Pose) local(px, py float64) (float64, float64) {
	s, c := math.Sincos(p.A)
	dx, dy := px-p.X, py-p.Y
	return c*dx + s*dy, -s*dx + c*dy
}

// world maps a point of the object's own frame into the frame.
func (p Pose) world(lx, ly float64) (float64, float64) {
	s, c := math.Sincos(p.A)
	return p.X + c*lx - s*ly, p.Y + s*lx + c*ly
}

// moved applies a shift given in the object's own frame and a turn.
func (p Pose) moved(dx, dy, da float64) Pose {
	s, c := math.Sincos(p.A)
	return Pose{p.X + c*dx - s*dy, p.Y + s*dx + c*dy, p.A + da}
}

// Sprite is one object's learned appearance in its own frame: a square
// patch of Side x Side cells, Scale cells per frame pixel, centred on the
// object's origin. Alpha is the expected coverage of a frame pixel whose
// centre falls on the cell and Premul its premultiplied colour (0..255 per
// channel), both averaged over every aligned observation of the object, so
// sampling the sprite at a pixel's centre reproduces the camera's
// anti-aliasing without modelling it.
type Sprite struct {
	Side, Scale int
	Alpha       []float32 // Side*Side
	Premul      []float32 // Side*Side*channels
	reach       float64   // reachOf, set once on first use
	cover       [4]float64
	cells       [][4]float32 // alpha and 3 premultiplied channels per cell (3-channel sprites)
	reachOnce   sync.Once
}

// reachOf is the distance from the origin to the farthest cell the sprite
// draws (frame pixels): rendering and fitting look no farther.
func (s *Sprite) reachOf() float64 {
	s.measure()
	return s.reach
}

// measure sets reach and cover once: the sprite is read-only once drawn.
func (s *Sprite) measure() {
	s.reachOnce.Do(func() {
		r := 0.5
		x0, y0, x1, y1 := s.Side, s.Side, -1, -1
		ch := len(s.Premul) / max(1, len(s.Alpha))
		for y := range s.Side {
			for x := range s.Side {
				i := y*s.Side + x
				if s.Alpha[i] > 0.004 {
					c := s.cellCentre(x, y)
					r = math.Max(r, math.Hypot(c[0], c[1]))
				}
				if s.Alpha[i] != 0 || slices.ContainsFunc(s.Premul[i*ch:(i+1)*ch], func(v float32) bool { return v != 0 }) {
					x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
				}
			}
		}
		s.reach = r + 1/float64(s.Scale)
		if ch == 3 {
			s.cells = make([][4]float32, len(s.Alpha))
			for i := range s.cells {
				s.cells[i] = [4]float32{s.Alpha[i], s.Premul[3*i], s.Premul[3*i+1], s.Premul[3*i+2]}
			}
		}
		// A point of the object's frame samples a non-zero cell only if its
		// grid position is within one cell of the drawn cells' box.
		k, h := float64(s.Scale), float64(s.Side)/2-0.5
		s.cover = [4]float64{(float64(x0) - 1 - h) / k, (float64(y0) - 1 - h) / k, (float64(x1) + 1 - h) / k, (float64(y1) + 1 - h) / k}
	})
}

// span narrows the pixel columns [x0, x1) of a row, at dy (pixels) from an
// object at pose p turned by (sn, cs) = sincos(p.A), to those whose pixel
// centres can sample a drawn cell of the sprite: along a row the sampled
// point moves on a line, which crosses the drawn cells' box in an
// interval. It is widened by a pixel each side, so rounding never drops a
// pixel that draws; the others would sample zero and leave the pixel be.
func (s *Sprite) span(p Pose, sn, cs, dy float64, x0, x1 int) (int, int) {
	s.measure()
	c := s.cover
	// The point at dx = x + 0.5 - p.X is (cs*dx + sn*dy, -sn*dx + cs*dy).
	lo, hi := math.Inf(-1), math.Inf(1)
	for _, l := range [2][4]float64{{cs, sn * dy, c[0], c[2]}, {-sn, cs * dy, c[1], c[3]}} {
		slope, off, a, b := l[0], l[1], l[2], l[3]
		switch {
		case math.Abs(slope) > 1e-9:
			a, b = (a-off)/slope, (b-off)/slope
			lo, hi = math.Max(lo, math.Min(a, b)), math.Min(hi, math.Max(a, b))
		case off <= a-1e-6 || off >= b+1e-6:
			return x0, x0
		}
	}
	lo = math.Floor(lo+p.X-0.5) - 1
	hi = math.Ceil(hi+p.X-0.5) + 2
	a, b := max(x0, int(math.Max(lo, float64(x0)))), min(x1, int(math.Min(hi, float64(x1))))
	if a >= b {
		return x0, x0
	}
	return a, b
}

// sample returns alpha and the premultiplied colour at a point of the
// object's frame (frame pixels), bilinear between cells; zero outside.
func (s *Sprite) sample(lx, ly float64, ch int, col []float32) float32 {
	fx, fy := gridPos(lx, ly, s.Side, s.Scale)
	x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
	if x0 < -1 || y0 < -1 || x0 >= s.Side || y0 >= s.Side {
		for c := range ch {
			col[c] = 0
		}
		return 0
	}
	wx, wy := float32(fx-float64(x0)), float32(fy-float64(y0))
	var a float32
	for c := range ch {
		col[c] = 0
	}
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

// gridPos is where a point of an object's frame (frame pixels) falls on a
// side x side grid of scale cells per pixel centred on the origin, in cell
// units from the first cell's centre.
func gridPos(lx, ly float64, side, scale int) (fx, fy float64) {
	return lx*float64(scale) + float64(side)/2 - 0.5, ly*float64(scale) + float64(side)/2 - 0.5
}

// cornerWeight is the bilinear weight of corner k (x0+k%2, y0+k/2) of the
// cell square a point falls in, wx and wy being its offsets from (x0, y0).
func cornerWeight[T float32 | float64](k int, wx, wy T) T {
	switch k {
	case 1:
		return wx * (1 - wy)
	case 2:
		return (1 - wx) * wy
	case 3:
		return wx * wy
	}
	return (1 - wx) * (1 - wy)
}

// footprint lists the cell centres (object frame, frame pixels) whose
// alpha is at least one half.
func (s *Sprite) footprint() [][2]float64 {
	var pts [][2]float64
	for y := range s.Side {
		for x := range s.Side {
			if s.Alpha[y*s.Side+x] >= 0.5 {
				pts = append(pts, s.cellCentre(x, y))
			}
		}
	}
	return pts
}

func (s *Sprite) cellCentre(x, y int) [2]float64 {
	k := float64(s.Scale)
	return [2]float64{(float64(x) + 0.5 - float64(s.Side)/2) / k, (float64(y) + 0.5 - float64(s.Side)/2) / k}
}

// Scene is everything the model learned about the camera's view: the
// static background and the objects' sprites, in drawing order (an object
// later in the list is drawn over earlier ones).
type Scene struct {
	H, W, C    int
	Background []float32 // H*W*C, 0..255
	Sprites    []*Sprite
	bgOnce     sync.Once
	bgBytes    []uint8 // the background rounded, made on first Render
}

// region is a clipped pixel rectangle [x0,x1) x [y0,y1).
type region struct{ x0, y0, x1, y1 int }

// bounds is the pixel rectangle an object's patch can touch at pose p.
func (sc *Scene) bounds(s *Sprite, p Pose) region {
	r := s.reachOf() + 1
	clamp := func(v float64, hi int) int { return int(math.Max(0, math.Min(float64(hi), v))) }
	x0, y0 := clamp(math.Floor(p.X-r), sc.W), clamp(math.Floor(p.Y-r), sc.H)
	return region{x0, y0, max(x0, clamp(math.Ceil(p.X+r)+1, sc.W)), max(y0, clamp(math.Ceil(p.Y+r)+1, sc.H))}
}

func (r region) union(o region) region {
	return region{min(r.x0, o.x0), min(r.y0, o.y0), max(r.x1, o.x1), max(r.y1, o.y1)}
}

// renderInto draws the scene at poses over the pixels of reg into dst
// (H*W*C floats, 0..255); pixels outside reg are left alone.
func (sc *Scene) renderInto(dst []float32, poses []Pose, reg region) {
	sc.fill(dst, reg)
	sc.composite(dst, poses, reg)
}

// fill copies the background over reg.
func (sc *Scene) fill(dst []float32, reg region) {
	ch := sc.C
	for y := reg.y0; y < reg.y1; y++ {
		copy(dst[(y*sc.W+reg.x0)*ch:(y*sc.W+reg.x1)*ch], sc.Background[(y*sc.W+reg.x0)*ch:(y*sc.W+reg.x1)*ch])
	}
}

// composite draws the sprites at poses, in order, over the pixels of reg.
func (sc *Scene) composite(dst []float32, poses []Pose, reg region) {
	ch := sc.C
	col := make([]float32, ch)
	for k, s := range sc.Sprites {
		p := poses[k]
		b := sc.bounds(s, p)
		b = region{max(b.x0, reg.x0), max(b.y0, reg.y0), min(b.x1, reg.x1), min(b.y1, reg.y1)}
		sn, cs := math.Sincos(p.A)
		for y := b.y0; y < b.y1; y++ {
			dy := float64(y) + 0.5 - p.Y
			x0, x1 := s.span(p, sn, cs, dy, b.x0, b.x1)
			if ch == 3 {
				s.drawRGB(dst[(y*sc.W)*3:(y*sc.W+x1)*3], x0, x1, p, sn, cs, dy)
				continue
			}
			for x := x0; x < x1; x++ {
				dx := float64(x) + 0.5 - p.X
				a := s.sample(cs*dx+sn*dy, -sn*dx+cs*dy, ch, col)
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
}

// drawRGB composites the sprite over pixels [x0, x1) of a 3-channel row
// (row: the row's floats up to x1), at dy from the object's origin: what
// composite does through sample, the same operations in the same order,
// with the four cells read from one packed table when they are all on the
// sprite.
func (s *Sprite) drawRGB(row []float32, x0, x1 int, p Pose, sn, cs, dy float64) {
	var col [3]float32
	for x := x0; x < x1; x++ {
		dx := float64(x) + 0.5 - p.X
		fx, fy := gridPos(cs*dx+sn*dy, -sn*dx+cs*dy, s.Side, s.Scale)
		gx, gy := math.Floor(fx), math.Floor(fy)
		ix, iy := int(gx), int(gy)
		var a float32
		if ix >= 0 && iy >= 0 && ix+1 < s.Side && iy+1 < s.Side {
			wx, wy := float32(fx-gx), float32(fy-gy)
			i := iy*s.Side + ix
			c0, c1, c2, c3 := &s.cells[i], &s.cells[i+1], &s.cells[i+s.Side], &s.cells[i+s.Side+1]
			w0, w1, w2, w3 := (1-wx)*(1-wy), wx*(1-wy), (1-wx)*wy, wx*wy
			a = w0*c0[0] + w1*c1[0] + w2*c2[0] + w3*c3[0]
			if a == 0 {
				continue
			}
			for c := range 3 {
				col[c] = w0*c0[c+1] + w1*c1[c+1] + w2*c2[c+1] + w3*c3[c+1]
			}
		} else if a = s.sample(cs*dx+sn*dy, -sn*dx+cs*dy, 3, col[:]); a == 0 {
			continue
		}
		o := row[3*x : 3*x+3]
		o[0] = col[0] + (1-a)*o[0]
		o[1] = col[1] + (1-a)*o[1]
		o[2] = col[2] + (1-a)*o[2]
	}
}

// Render draws the scene with its objects at poses as a camera frame
// (H*W*C bytes). Only the pixels each object can reach are composited and
// rounded; the rest is the background's.
func (sc *Scene) Render(poses []Pose) []uint8 {
	sc.bgOnce.Do(func() {
		sc.bgBytes = make([]uint8, len(sc.Background))
		for i, v := range sc.Background {
			sc.bgBytes[i] = toByte(v)
		}
	})
	out := append([]uint8(nil), sc.bgBytes...)
	if len(sc.Sprites) == 0 {
		return out
	}
	buf := renderPool.Get().(*renderBuf)
	if len(buf.frame) < len(sc.Background) {
		buf.frame = make([]float32, len(sc.Background))
	}
	// Each object's own bounds, not their union: objects apart would
	// otherwise fill and round everything between them.
	buf.regs = buf.regs[:0]
	reg := sc.bounds(sc.Sprites[0], poses[0])
	for k, s := range sc.Sprites {
		b := sc.bounds(s, poses[k])
		buf.regs = append(buf.regs, b)
		reg = reg.union(b)
		sc.fill(buf.frame, b)
	}
	sc.composite(buf.frame, poses, reg)
	for _, b := range buf.regs {
		for y := b.y0; y < b.y1; y++ {
			row := (y*sc.W + b.x0) * sc.C
			src, dst := buf.frame[row:row+(b.x1-b.x0)*sc.C], out[row:row+(b.x1-b.x0)*sc.C]
			for i, v := range src {
				dst[i] = toByte(v)
			}
		}
	}
	renderPool.Put(buf)
	return out
}

// renderBuf is Render's scratch: a float frame and the objects' bounds.
type renderBuf struct {
	frame []float32
	regs  []region
}

// renderPool holds float frames for Render, so imagined steps do not
// allocate one each.
var renderPool = sync.Pool{New: func() any { return new(renderBuf) }}

// toByte is math.Round of v clamped to 0..255, in float32: for v in
// [0.5, 255), v+0.5 is exact while it stays in v's binade, and past it is
// at least the next power of two, an integer it cannot round across; so
// truncating it floors v+0.5. (Below 0.5 the sum may round up to 1.)
func toByte(v float32) uint8 {
	if !(v >= 0.5) {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}
