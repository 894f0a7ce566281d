package pusht

import "math"

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
	var c canvas
	return c.renderWithZones(agent, block, zones, size)
}

// RenderWithZones is Render with zones painted on the table (see
// RenderStateWithZones).
func (e *Env) RenderWithZones(size int, zones []Disc) []uint8 {
	s := e.State()
	img, err := e.canvas.renderWithZones(s.Agent, s.Block, zones, size)
	if err != nil {
		panic(err)
	}
	return img
}

func (c *canvas) renderWithZones(agent Vec2, block Pose, zones []Disc, size int) ([]uint8, error) {
	c.ensure(WorldSize, WorldSize)
	c.drawScene(agent, block)
	for _, z := range zones {
		c.paintUnder(z, colZone)
	}
	if size == WorldSize {
		return append([]uint8(nil), c.pix...), nil
	}
	if size <= 0 {
		return c.render(agent, block, size) // reports the bad size
	}
	return resizeLinear(c.pix, WorldSize, size)
}

// paintUnder colours the pixels of disc d (pixel centres within the
// radius) that show the table or the goal.
func (c *canvas) paintUnder(d Disc, col rgb) {
	x0, x1 := int(math.Floor(d.Center.X-d.Radius)), int(math.Ceil(d.Center.X+d.Radius))
	y0, y1 := int(math.Floor(d.Center.Y-d.Radius)), int(math.Ceil(d.Center.Y+d.Radius))
	r2 := d.Radius * d.Radius
	for y := y0; y <= y1; y++ {
		for x := x0; x <= x1; x++ {
			dx, dy := float64(x)-d.Center.X, float64(y)-d.Center.Y
			if dx*dx+dy*dy > r2 || !c.inside(x, y) {
				continue
			}
			i := (y*c.w + x) * 3
			if p := (rgb{c.pix[i], c.pix[i+1], c.pix[i+2]}); p == colWhite || p == colGoal {
				c.set(x, y, col)
			}
		}
	}
}
