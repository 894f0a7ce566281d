package pusht

import (
	"fmt"
	"image"
	"math"
	"runtime"

	"github.com/jakecoffman/cp/v2"
	"gocv.io/x/gocv"
)

// ObsSize is the side of the image observation in pixels.
const ObsSize = 96

// Colours of the reference renderer (pygame named colours). The light
// variants are the base colour x1.2, clipped at 255 and rounded, as seen in
// the recorded frames.
var (
	colWhite      = rgb{255, 255, 255}
	colGoal       = rgb{144, 238, 144} // LightGreen
	colBlockEdge  = rgb{119, 136, 153} // LightSlateGray
	colBlockFill  = rgb{143, 163, 184} // LightSlateGray x1.2
	colAgentOuter = rgb{65, 105, 225}  // RoyalBlue
	colAgentInner = rgb{78, 126, 255}  // RoyalBlue x1.2
	colWall       = rgb{211, 211, 211} // LightGray
)

// teeHull holds each rectangle's vertices in the order Chipmunk stores them
// after its convex hull pass. The debug renderer walks edges in that order,
// and a thick Bresenham line's pixels depend on its direction.
var teeHull = func() [2][4]Vec2 {
	var out [2][4]Vec2
	for i, rect := range teeLocal {
		verts := []cp.Vector{cpv(rect[0]), cpv(rect[1]), cpv(rect[2]), cpv(rect[3])}
		if n := cp.ConvexHull(len(verts), verts, nil, 0); n != 4 {
			panic(fmt.Sprintf("pusht: hull of a rectangle has %d vertices", n))
		}
		for j, v := range verts {
			out[i][j] = vec(v)
		}
	}
	return out
}()

// drawScene paints a state onto the 512x512 canvas in the reference order:
// white table, goal T, then the space's shapes as Chipmunk iterates them
// (bar, stem, pusher), then the static walls.
func (c *canvas) drawScene(agent Vec2, block Pose) {
	c.ensure(WorldSize, WorldSize)
	c.fill(colWhite)
	var xs, ys [5]int
	for _, rect := range teeHull {
		for j, v := range rect {
			xs[j], ys[j] = pixel(Goal.Apply(v))
		}
		xs[4], ys[4] = xs[0], ys[0] // the reference closes the ring explicitly
		c.fillPoly(xs[:], ys[:], colGoal)
	}
	for _, rect := range teeHull {
		var w [4]Vec2
		for j, v := range rect {
			w[j] = block.Apply(v)
			xs[j], ys[j] = pixel(w[j])
		}
		xs[4], ys[4] = xs[0], ys[0]
		c.fillPoly(xs[:], ys[:], colBlockFill)
		for j := range w {
			c.fatSegment(w[j], w[(j+1)%4], 2, colBlockEdge)
		}
	}
	ax, ay := pixel(agent)
	c.circle(ax, ay, int(AgentRadius), colAgentOuter)
	c.circle(ax, ay, int(AgentRadius)-4, colAgentInner)
	for _, s := range walls {
		c.fatSegment(s[0], s[1], wallRadius, colWall)
	}
}

// fatSegment is the reference's draw_fat_segment: a 4-pixel-wide line, a
// quadrilateral widened by a rounded normal, and discs at both ends.
func (c *canvas) fatSegment(a, b Vec2, radius float64, col rgb) {
	x1, y1 := pixel(a)
	x2, y2 := pixel(b)
	width := int(math.RoundToEven(math.Max(1, radius*2)))
	c.thickLine(x1, y1, x2, y2, width, col)
	if width <= 2 {
		return
	}
	ox, oy := iabs(y2-y1), iabs(x2-x1)
	if ox == 0 && oy == 0 {
		return
	}
	scale := radius / math.Sqrt(float64(ox*ox+oy*oy))
	ox = int(math.RoundToEven(float64(ox) * scale))
	oy = int(math.RoundToEven(float64(oy) * scale))
	xs := [4]int{x1 - ox, x1 + ox, x2 + ox, x2 - ox}
	ys := [4]int{y1 - oy, y1 + oy, y2 + oy, y2 - oy}
	c.fillPoly(xs[:], ys[:], col)
	r := int(math.RoundToEven(radius))
	c.circle(x1, y1, r, col)
	c.circle(x2, y2, r, col)
}

// pixel rounds a world point like Python's round() (half to even).
func pixel(v Vec2) (int, int) {
	return int(math.RoundToEven(v.X)), int(math.RoundToEven(v.Y))
}

// RenderState draws a state at size x size, RGB row-major (H, W, 3). The
// scene is always drawn at 512x512; other sizes are resized with OpenCV's
// bilinear interpolation, as the reference does with cv2.resize.
func RenderState(agent Vec2, block Pose, size int) ([]uint8, error) {
	var c canvas
	return c.render(agent, block, size)
}

func (c *canvas) render(agent Vec2, block Pose, size int) ([]uint8, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pusht: render size %d", size)
	}
	c.drawScene(agent, block)
	if size == WorldSize {
		return append([]uint8(nil), c.pix...), nil
	}
	return resizeLinear(c.pix, WorldSize, size)
}

// resizeLinear resizes a square RGB image with cv2.resize's default
// INTER_LINEAR, the call that produced the recorded 96x96 frames.
func resizeLinear(pix []uint8, from, to int) ([]uint8, error) {
	src, err := gocv.NewMatFromBytes(from, from, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		return nil, fmt.Errorf("pusht: wrap frame: %w", err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.Resize(src, &dst, image.Pt(to, to), 0, 0, gocv.InterpolationLinear)
	out := dst.ToBytes()
	runtime.KeepAlive(pix)
	if len(out) != to*to*3 {
		return nil, fmt.Errorf("pusht: resize gave %d bytes, want %d", len(out), to*to*3)
	}
	return out, nil
}
