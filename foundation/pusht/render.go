package pusht

import (
	"fmt"

	"github.com/jakecoffman/cp/v2"

	"dreamrank/foundation/raster"
)

// ObsSize is the side of the image observation in pixels.
const ObsSize = 96

// rgb is one pixel colour.
type rgb = raster.RGB

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
func drawScene(c *raster.Canvas, agent Vec2, block Pose) {
	c.Ensure(WorldSize, WorldSize)
	c.Fill(colWhite)
	var xs, ys [5]int
	for _, rect := range teeHull {
		for j, v := range rect {
			xs[j], ys[j] = pixel(Goal.Apply(v))
		}
		xs[4], ys[4] = xs[0], ys[0] // the reference closes the ring explicitly
		c.FillPoly(xs[:], ys[:], colGoal)
	}
	for _, rect := range teeHull {
		var w [4]Vec2
		for j, v := range rect {
			w[j] = block.Apply(v)
			xs[j], ys[j] = pixel(w[j])
		}
		xs[4], ys[4] = xs[0], ys[0]
		c.FillPoly(xs[:], ys[:], colBlockFill)
		for j := range w {
			fatSegment(c, w[j], w[(j+1)%4], 2, colBlockEdge)
		}
	}
	ax, ay := pixel(agent)
	c.Circle(ax, ay, int(AgentRadius), colAgentOuter)
	c.Circle(ax, ay, int(AgentRadius)-4, colAgentInner)
	for _, s := range walls {
		fatSegment(c, s[0], s[1], wallRadius, colWall)
	}
}

// RenderState draws a state at size x size, RGB row-major (H, W, 3). The
// scene is always drawn at 512x512; other sizes are resized with OpenCV's
// bilinear interpolation, as the reference does with cv2.resize.
func RenderState(agent Vec2, block Pose, size int) ([]uint8, error) {
	var c raster.Canvas
	return render(&c, agent, block, size)
}

func render(c *raster.Canvas, agent Vec2, block Pose, size int) ([]uint8, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pusht: render size %d", size)
	}
	drawScene(c, agent, block)
	if size == WorldSize {
		return append([]uint8(nil), c.Pix()...), nil
	}
	return raster.Resize(c.Pix(), WorldSize, size)
}

// fatSegment is the reference's draw_fat_segment between two table points.
func fatSegment(c *raster.Canvas, a, b Vec2, radius float64, col rgb) {
	c.FatSegment(a.X, a.Y, b.X, b.Y, radius, col)
}

// pixel rounds a world point like Python's round() (half to even).
func pixel(v Vec2) (int, int) { return raster.Pixel(v.X, v.Y) }
