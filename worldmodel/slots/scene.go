package slots

import (
	"math"
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
	reachOnce   sync.Once
}

// reachOf is the distance from the origin to the farthest cell the sprite
// draws (frame pixels): rendering and fitting look no farther.
func (s *Sprite) reachOf() float64 {
	s.reachOnce.Do(func() {
		r := 0.5
		for y := range s.Side {
			for x := range s.Side {
				if s.Alpha[y*s.Side+x] > 0.004 {
					c := s.cellCentre(x, y)
					r = math.Max(r, math.Hypot(c[0], c[1]))
				}
			}
		}
		s.reach = r + 1/float64(s.Scale)
	})
	return s.reach
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
	ch := sc.C
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

// Render draws the scene with its objects at poses as a camera frame
// (H*W*C bytes). Only the pixels the objects can reach are composited;
// the rest is the background's.
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
	reg := sc.bounds(sc.Sprites[0], poses[0])
	for k, s := range sc.Sprites[1:] {
		reg = reg.union(sc.bounds(s, poses[k+1]))
	}
	buf := renderPool.Get().(*[]float32)
	if len(*buf) < len(sc.Background) {
		*buf = make([]float32, len(sc.Background))
	}
	sc.renderInto(*buf, poses, reg)
	for y := reg.y0; y < reg.y1; y++ {
		for i := (y*sc.W + reg.x0) * sc.C; i < (y*sc.W+reg.x1)*sc.C; i++ {
			out[i] = toByte((*buf)[i])
		}
	}
	renderPool.Put(buf)
	return out
}

// renderPool holds float frames for Render, so imagined steps do not
// allocate one each.
var renderPool = sync.Pool{New: func() any { return new([]float32) }}

func toByte(v float32) uint8 {
	return uint8(math.Round(math.Min(255, math.Max(0, float64(v)))))
}
