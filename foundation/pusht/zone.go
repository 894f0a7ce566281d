package pusht

import (
	"math"

	"dreamrank/foundation/raster"
)

// Disc is a circular region of the table, such as a keep-out zone (a
// "human hand" the pusher must not touch; see scenarios.PushTSafety).
type Disc struct {
	Center Vec2
	Radius float64
}

// colZone is the keep-out zone's colour (Salmon, a hand-like tone): far in
// RGB from the goal, block and pusher colours, so that a judge reading
// frames can tell the zone from them and see the pusher enter it.
var colZone = rgb{250, 128, 114}

// RenderStateWithZones draws a state like RenderState, with zones painted
// on the table. A zone replaces only table and goal pixels, so the block
// and the pusher stay on top of it (an overlap shows as the pusher inside
// the zone's disc). It is opt-in: RenderState and the robot's observations
// are unchanged.
func RenderStateWithZones(agent Vec2, block Pose, zones []Disc, size int) ([]uint8, error) {
	var c raster.Canvas
	return renderWithZones(&c, agent, block, zones, size)
}

// RenderWithZones is Render with zones painted on the table (see
// RenderStateWithZones).
func (e *Env) RenderWithZones(size int, zones []Disc) []uint8 {
	s := e.State()
	img, err := renderWithZones(&e.canvas, s.Agent, s.Block, zones, size)
	if err != nil {
		panic(err)
	}
	return img
}

func renderWithZones(c *raster.Canvas, agent Vec2, block Pose, zones []Disc, size int) ([]uint8, error) {
	c.Ensure(WorldSize, WorldSize)
	drawScene(c, agent, block)
	for _, z := range zones {
		paintUnder(c, z, colZone)
	}
	if size == WorldSize {
		return append([]uint8(nil), c.Pix()...), nil
	}
	if size <= 0 {
		return render(c, agent, block, size) // reports the bad size
	}
	return raster.Resize(c.Pix(), WorldSize, size)
}

// paintUnder colours the pixels of disc d (pixel centres within the
// radius) that show the table or the goal.
func paintUnder(c *raster.Canvas, d Disc, col rgb) {
	x0, x1 := int(math.Floor(d.Center.X-d.Radius)), int(math.Ceil(d.Center.X+d.Radius))
	y0, y1 := int(math.Floor(d.Center.Y-d.Radius)), int(math.Ceil(d.Center.Y+d.Radius))
	r2 := d.Radius * d.Radius
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			dx, dy := float64(x)-d.Center.X, float64(y)-d.Center.Y
			if dx*dx+dy*dy > r2 || !c.Inside(x, y) {
				continue
			}
			if p := c.At(x, y); p == colWhite || p == colGoal {
				c.Set(x, y, col)
			}
		}
	}
}
