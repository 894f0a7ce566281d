package pushl

import (
	"fmt"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/raster"
	"dreamrank/foundation/tabletop"
)

// Colours. The block is one flat colour with no outline and the target
// another, both far in RGB from each other, from the white table, from the
// grey walls and from the blue pusher and from mixes of those (what
// bilinear resizing makes at edges), so a judge can tell them apart by
// colour alone. The pusher and walls look as in PushT.
var (
	BlockColour  = raster.RGB{255, 140, 0}   // DarkOrange
	TargetColour = raster.RGB{238, 130, 238} // Violet
	colTable     = raster.RGB{255, 255, 255}
	colAgentOut  = raster.RGB{65, 105, 225} // RoyalBlue, as PushT
	colAgentIn   = raster.RGB{78, 126, 255} // RoyalBlue x1.2, as PushT
	colWall      = raster.RGB{211, 211, 211}
)

// RenderState draws a state at size x size, RGB row-major (H, W, 3): the
// scene at 512x512, resized with OpenCV's bilinear interpolation as PushT's
// frames are.
func RenderState(agent pusht.Vec2, block pusht.Pose, size int) ([]uint8, error) {
	var c raster.Canvas
	return render(&c, agent, block, size, true)
}

// RenderTarget draws the table with the target alone (no block, no
// pusher): a frame in which the target region is fully visible, for judges
// that need to know it.
func RenderTarget(size int) ([]uint8, error) {
	var c raster.Canvas
	return render(&c, pusht.Vec2{}, pusht.Pose{}, size, false)
}

func render(c *raster.Canvas, agent pusht.Vec2, block pusht.Pose, size int, bodies bool) ([]uint8, error) {
	if size <= 0 {
		return nil, fmt.Errorf("pushl: render size %d", size)
	}
	drawScene(c, agent, block, bodies)
	if size == tabletop.WorldSize {
		return append([]uint8(nil), c.Pix()...), nil
	}
	out, err := raster.Resize(c.Pix(), tabletop.WorldSize, size)
	if err != nil {
		return nil, fmt.Errorf("pushl: %w", err)
	}
	return out, nil
}

// drawScene paints table, target, block, pusher and walls in PushT's order.
func drawScene(c *raster.Canvas, agent pusht.Vec2, block pusht.Pose, bodies bool) {
	c.Ensure(tabletop.WorldSize, tabletop.WorldSize)
	c.Fill(colTable)
	drawL(c, Goal, TargetColour)
	if bodies {
		drawL(c, block, BlockColour)
		ax, ay := raster.Pixel(agent.X, agent.Y)
		c.Circle(ax, ay, int(tabletop.AgentRadius), colAgentOut)
		c.Circle(ax, ay, int(tabletop.AgentRadius)-4, colAgentIn)
	}
	for _, s := range tabletop.Walls {
		c.FatSegment(s[0].X, s[0].Y, s[1].X, s[1].Y, tabletop.WallRadius, colWall)
	}
}

func drawL(c *raster.Canvas, p pusht.Pose, col raster.RGB) {
	var xs, ys [4]int
	for _, part := range Parts {
		for j, v := range part {
			w := p.Apply(v)
			xs[j], ys[j] = raster.Pixel(w.X, w.Y)
		}
		c.FillPoly(xs[:], ys[:], col)
	}
}
