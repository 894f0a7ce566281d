package pusht

// This file reads the block pose and the pusher position back from a
// rendered frame, for judging imagined (world-model) frames where no
// simulator state exists.
//
// Method, and why:
//   - Colour unmixing. Every pixel of a resized frame is a bilinear blend of
//     a few canvas pixels, so its colour is a linear mix of palette colours.
//     Solving colour = a*white + g*goal + f*blockFill per pixel gives f, the
//     block's share, independent of whether the block lies over the table or
//     over the goal. The block's edge colour is exactly fill/1.2, so edge
//     pixels unmix to f = 1/1.2 and the wall grey to f = 0.
//   - The pusher is drawn over the block; it is found first by its blueness
//     (B-R, large only for RoyalBlue) and fitted as a disc, and the pixels it
//     covers are left out of the block fit.
//   - First guess by image moments: the T's second moments differ along its
//     two axes (the stem axis is the major one) and its third moment along the
//     stem axis is positive towards the stem, which fixes the angle modulo
//     2pi. Both that angle and its opposite (and, when the axes are
//     ambiguous, the perpendicular ones) are tried.
//   - Analysis by synthesis: a smooth model of what the renderer draws (T
//     silhouette dilated by the radius-2 edge lines, edge band at 1/1.2, a
//     linear ramp across every boundary, evaluated at each pixel's sample
//     point) is fitted to f by Levenberg-Marquardt, coarse to fine in ramp
//     width, with analytic derivatives. This works in milliseconds where
//     rendering candidates with RenderState (a 512x512 canvas each) would not.

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sync"

	"gocv.io/x/gocv"
)

// ErrBadFrame reports a frame whose length does not match its size.
var ErrBadFrame = errors.New("pusht: bad frame")

// Reading is what ReadFrame sees in one frame. Positions are table pixels
// (0..512), the block angle is in [0, 2pi) like the dataset's.
type Reading struct {
	Block Pose `json:"block"`
	Agent Vec2 `json:"agent"`
	// BlockOK: a T was found and the fitted T explains it (Quality at least
	// MinBlockQuality). When false, Block is the best guess or zero.
	BlockOK bool `json:"block_ok"`
	// AgentOK: enough pusher-blue pixels were found to fit the disc.
	AgentOK bool `json:"agent_ok"`
	// Quality is the IoU between the observed block silhouette and the
	// fitted one over the pixels used (0 when no block was found).
	Quality float64 `json:"quality"`
	// Residual is the RMS difference between the observed block share and
	// the fitted model, over the same pixels.
	Residual float64 `json:"residual"`
}

// MinBlockQuality is the IoU below which a block reading is not trusted.
// Frames rendered from a real state read at about 0.93 or better; a T
// fitted the wrong way round scores near 0.6, and blurred or garbled
// imagined frames fall below too.
const MinBlockQuality = 0.8

// ReadPoses estimates the block pose and the pusher position from an RGB
// frame (size x size x 3, row-major, as rendered by RenderState or recorded
// in the dataset). ok reports whether a block was read (see Reading.BlockOK);
// quality is Reading.Quality; agent is zero when no pusher is visible (use
// ReadFrame to tell). It is safe for concurrent use.
func ReadPoses(frame []uint8, size int) (block Pose, agent Vec2, ok bool, quality float64) {
	r := readerPool.Get().(*PoseReader)
	defer readerPool.Put(r)
	rd, err := r.Read(frame, size)
	if err != nil {
		return Pose{}, Vec2{}, false, 0
	}
	return rd.Block, rd.Agent, rd.BlockOK, rd.Quality
}

// ReadFrame is ReadPoses with the full Reading and errors.
func ReadFrame(frame []uint8, size int) (Reading, error) {
	r := readerPool.Get().(*PoseReader)
	defer readerPool.Put(r)
	return r.Read(frame, size)
}

var readerPool = sync.Pool{New: func() any { return new(PoseReader) }}

// PoseReader reads poses from frames reusing its buffers; the zero value
// is ready. It is not safe for concurrent use (ReadPoses pools them).
type PoseReader struct {
	size        int
	scale       float64   // table pixels per frame pixel
	share, blue []float64 // per pixel: block share f, pusher blueness
	mask        []uint8
	px, py, fv  []float64 // the pixels the block fit uses
	keep        []bool    // pixels of the kept mask components
}

// Geometry of what the renderer draws, in table pixels.
const (
	edgeRadius = 2.0            // fat edge lines of the block
	teeCentY   = 40.0 + 5.0/7.0 // area centroid of the T on its axis: (3600*15+2700*75)/6300
	wallInner  = 8.0            // the walls cover up to 7 px from the border
)

// Palette unmixing: rows of the inverse of [white goal fill] (columns), so
// that share = unmix[2] . rgb.
var (
	unmix   = invert3(colWhite, colGoal, colBlockFill)
	edgeMix = dot3(unmix[2], colBlockEdge) // share of an edge pixel, ~1/1.2
)

func invert3(a, b, c rgb) [3][3]float64 {
	m := [3][3]float64{}
	for i := 0; i < 3; i++ {
		m[i] = [3]float64{float64(a[i]), float64(b[i]), float64(c[i])}
	}
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
		m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
		m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	var inv [3][3]float64
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			// cofactor of m[j][i]
			r0, r1 := (j+1)%3, (j+2)%3
			c0, c1 := (i+1)%3, (i+2)%3
			inv[i][j] = (m[r0][c0]*m[r1][c1] - m[r0][c1]*m[r1][c0]) / det
		}
	}
	return inv
}

func dot3(row [3]float64, c rgb) float64 {
	return row[0]*float64(c[0]) + row[1]*float64(c[1]) + row[2]*float64(c[2])
}

// Read estimates the poses in one frame. Only a malformed frame is an
// error; a frame without a readable block or pusher says so in the Reading.
func (r *PoseReader) Read(frame []uint8, size int) (Reading, error) {
	if size < 16 || len(frame) != size*size*3 {
		return Reading{}, fmt.Errorf("%w: %d bytes for a %dx%d RGB frame", ErrBadFrame, len(frame), size, size)
	}
	r.prepare(frame, size)
	var rd Reading
	rd.Agent, rd.AgentOK = r.readAgent()
	fit, ok, err := r.readBlock(rd.Agent, rd.AgentOK)
	if err != nil {
		return Reading{}, err
	}
	if !ok {
		return rd, nil
	}
	rd.Block, rd.Quality, rd.Residual = fit.pose, fit.quality, fit.residual
	rd.BlockOK = rd.Quality >= MinBlockQuality
	rd.Block.Angle = math.Mod(rd.Block.Angle, 2*math.Pi)
	if rd.Block.Angle < 0 {
		rd.Block.Angle += 2 * math.Pi
	}
	return rd, nil
}

// world maps a frame pixel index to the table point its value samples:
// cv2.resize's INTER_LINEAR takes source (x+0.5)*scale-0.5, and canvas
// pixel i shows table point i (vertices are rounded to pixels).
func (r *PoseReader) world(i int) float64 { return (float64(i)+0.5)*r.scale - 0.5 }

func (r *PoseReader) prepare(frame []uint8, size int) {
	n := size * size
	r.size, r.scale = size, float64(WorldSize)/float64(size)
	if cap(r.share) < n {
		r.share, r.blue, r.mask = make([]float64, n), make([]float64, n), make([]uint8, n)
	}
	r.share, r.blue, r.mask = r.share[:n], r.blue[:n], r.mask[:n]
	u := unmix[2]
	for i := 0; i < n; i++ {
		cr, cg, cb := float64(frame[3*i]), float64(frame[3*i+1]), float64(frame[3*i+2])
		r.share[i] = clamp01(u[0]*cr + u[1]*cg + u[2]*cb)
		// RoyalBlue has B-R 160 (177 inside); nothing else in the scene
		// exceeds 41 (the block fill), which maps to 0.
		r.blue[i] = clamp01((cb - cr - 41) / 119)
	}
}

func clamp01(v float64) float64 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// readAgent fits the pusher disc to the blueness map.
func (r *PoseReader) readAgent() (Vec2, bool) {
	var sw, sx, sy float64
	for y := 0; y < r.size; y++ {
		for x := 0; x < r.size; x++ {
			if b := r.blue[y*r.size+x]; b > 0.5 {
				sw += b
				sx += b * r.world(x)
				sy += b * r.world(y)
			}
		}
	}
	// Require a third of the disc: the pusher may stand partly off the table.
	if sw*r.scale*r.scale < 0.3*math.Pi*AgentRadius*AgentRadius {
		return Vec2{}, false
	}
	c := Vec2{sx / sw, sy / sw}
	for _, width := range []float64{4, 1.5} {
		c = r.fitDisc(c, width)
	}
	// The midpoint disc covers [x0-r, x0+r-1]: its centre sits half a
	// pixel before the pusher's rounded position.
	return Vec2{c.X + 0.5, c.Y + 0.5}, true
}

// fitDisc refines the pusher centre by Gauss-Newton on a disc of radius
// AgentRadius with a linear edge ramp of the given width.
func (r *PoseReader) fitDisc(c Vec2, width float64) Vec2 {
	reach := AgentRadius + 2*width + 2*r.scale
	x0, x1 := r.index(c.X-reach), r.index(c.X+reach)
	y0, y1 := r.index(c.Y-reach), r.index(c.Y+reach)
	for it := 0; it < 8; it++ {
		var h00, h01, h11, g0, g1 float64
		for y := y0; y <= y1; y++ {
			wy := r.world(y)
			for x := x0; x <= x1; x++ {
				wx := r.world(x)
				dx, dy := wx-c.X, wy-c.Y
				d := math.Hypot(dx, dy)
				t := (AgentRadius-d)/width + 0.5
				m, dm := 0.0, 0.0
				switch {
				case t >= 1:
					m = 1
				case t > 0:
					m, dm = t, 1/width
				}
				res := m - r.blue[y*r.size+x]
				if dm == 0 || d == 0 {
					continue
				}
				// dm/dc = dm/dd * dd/dc, dd/dc = -(dx,dy)/d, dm/dd = -1/width.
				jx, jy := dm*dx/d, dm*dy/d
				h00 += jx * jx
				h01 += jx * jy
				h11 += jy * jy
				g0 += jx * res
				g1 += jy * res
			}
		}
		det := h00*h11 - h01*h01
		if det <= 1e-12 {
			break
		}
		sx := -(h11*g0 - h01*g1) / det
		sy := -(h00*g1 - h01*g0) / det
		// Bound each step: the ramp is only informative near the edge.
		if n := math.Hypot(sx, sy); n > 2*width {
			sx, sy = sx*2*width/n, sy*2*width/n
		}
		c.X += sx
		c.Y += sy
		if math.Abs(sx)+math.Abs(sy) < 0.01 {
			break
		}
	}
	return c
}

// index is the frame pixel whose sample point is nearest to table
// coordinate v, clamped to the frame.
func (r *PoseReader) index(v float64) int {
	i := int(math.Round((v+0.5)/r.scale - 0.5))
	return max(0, min(r.size-1, i))
}

// readBlock finds the block's pixels, guesses the pose from their moments
// and refines it against the synthetic model.
func (r *PoseReader) readBlock(agent Vec2, agentOK bool) (blockFit, bool, error) {
	// Pixels hidden by the pusher (or anything blue) say nothing about the block.
	hidden := func(x, y int) bool {
		if r.blue[y*r.size+x] > 0.1 {
			return true
		}
		if agentOK {
			return math.Hypot(r.world(x)-agent.X+0.5, r.world(y)-agent.Y+0.5) < AgentRadius+edgeRadius+1
		}
		return false
	}
	for y := 0; y < r.size; y++ {
		for x := 0; x < r.size; x++ {
			i := y*r.size + x
			r.mask[i] = 0
			if r.share[i] > 0.5 && !hidden(x, y) {
				r.mask[i] = 255
			}
		}
	}
	keep, bbox, err := r.blockComponents()
	if err != nil {
		return blockFit{}, false, err
	}
	if keep == nil {
		return blockFit{}, false, nil
	}
	// Moments of the kept silhouette, in table pixels.
	var n, mx, my float64
	for y := bbox.Min.Y; y < bbox.Max.Y; y++ {
		for x := bbox.Min.X; x < bbox.Max.X; x++ {
			if keep[y*r.size+x] {
				n++
				mx += r.world(x)
				my += r.world(y)
			}
		}
	}
	// The silhouette is the T widened by the edge lines (about 7500 px^2);
	// with less than a sixth of it visible no pose is meaningful.
	if n*r.scale*r.scale < teeArea/6 {
		return blockFit{}, false, nil
	}
	mx /= n
	my /= n
	var cxx, cxy, cyy float64
	for y := bbox.Min.Y; y < bbox.Max.Y; y++ {
		for x := bbox.Min.X; x < bbox.Max.X; x++ {
			if keep[y*r.size+x] {
				dx, dy := r.world(x)-mx, r.world(y)-my
				cxx += dx * dx
				cxy += dx * dy
				cyy += dy * dy
			}
		}
	}
	// Major axis: the T's stem direction (variance 1214 vs 718 across).
	phi := 0.5 * math.Atan2(2*cxy, cxx-cyy)
	ux, uy := math.Cos(phi), math.Sin(phi)
	var m3 float64
	for y := bbox.Min.Y; y < bbox.Max.Y; y++ {
		for x := bbox.Min.X; x < bbox.Max.X; x++ {
			if keep[y*r.size+x] {
				t := (r.world(x)-mx)*ux + (r.world(y)-my)*uy
				m3 += t * t * t
			}
		}
	}
	if m3 < 0 {
		ux, uy = -ux, -uy
	}
	// Body +y maps to (-sin a, cos a).
	theta := math.Atan2(-ux, uy)
	seeds := []float64{theta, theta + math.Pi}
	tr := cxx + cyy
	disc := math.Sqrt(math.Max(0, (cxx-cyy)*(cxx-cyy)/4+cxy*cxy))
	if l1, l2 := tr/2+disc, tr/2-disc; l2 <= 0 || l1/l2 < 1.35 {
		seeds = append(seeds, theta+math.Pi/2, theta-math.Pi/2)
	}

	centre := Vec2{mx, my}
	fit := r.fitSeeds(bbox, hidden, centre, seeds)
	if fit.quality < retryQuality {
		// A wrong first guess (a T cut by the pusher or the border, a
		// smeared imagined block) ends in a local optimum; try the angles
		// in between before giving up.
		more := make([]float64, 8)
		for k := range more {
			more[k] = theta + math.Pi/8 + float64(k)*math.Pi/4
		}
		if f2 := r.fitSeeds(bbox, hidden, centre, more); f2.quality > fit.quality {
			fit = f2
		}
	}
	return fit, true, nil
}

// retryQuality is the IoU below which readBlock tries more starting angles;
// correct fits of rendered frames score 0.93 or more.
const retryQuality = 0.9

// blockFit is a fitted block pose and how well it explains the frame.
type blockFit struct {
	pose              Pose
	quality, residual float64
}

// fitSeeds fits the T from each starting angle with a blurred model (on a
// subsample of large frames, for speed), refines the best one at full
// resolution and sharpness, and scores it.
func (r *PoseReader) fitSeeds(bbox image.Rectangle, hidden func(x, y int) bool, centre Vec2, seeds []float64) blockFit {
	r.collect(bbox, hidden, max(1, r.size/128))
	best, bestCost := Pose{}, math.Inf(1)
	for _, a := range seeds {
		s, c := math.Sincos(a)
		p := Pose{centre.X + s*teeCentY, centre.Y - c*teeCentY, a}
		for _, w := range []float64{8, 4} {
			p = r.fitTee(p, w, 10)
		}
		if cost, _, _ := r.teeCost(p, 4); cost < bestCost {
			best, bestCost = p, cost
		}
	}
	r.collect(bbox, hidden, 1)
	for _, w := range []float64{2, 1.2} {
		best = r.fitTee(best, w, 10)
	}
	q, res := r.quality(best)
	return blockFit{best, q, res}
}

// blockComponents keeps the connected pieces of the block mask that are
// large next to the largest one, so stray specks (noise in imagined
// frames) do not pull the first guess, while a T cut in two by the pusher
// keeps both halves. It returns nil when nothing is left.
func (r *PoseReader) blockComponents() ([]bool, image.Rectangle, error) {
	src, err := gocv.NewMatFromBytes(r.size, r.size, gocv.MatTypeCV8UC1, r.mask)
	if err != nil {
		return nil, image.Rectangle{}, fmt.Errorf("pusht: wrap mask: %w", err)
	}
	defer src.Close()
	labels, stats, cents := gocv.NewMat(), gocv.NewMat(), gocv.NewMat()
	defer labels.Close()
	defer stats.Close()
	defer cents.Close()
	count := gocv.ConnectedComponentsWithStats(src, &labels, &stats, &cents)
	largest := 0
	for l := 1; l < count; l++ {
		largest = max(largest, int(stats.GetIntAt(l, int(gocv.CC_STAT_AREA))))
	}
	if largest == 0 {
		return nil, image.Rectangle{}, nil
	}
	keepLabel := make([]bool, count)
	var bbox image.Rectangle
	for l := 1; l < count; l++ {
		if area := int(stats.GetIntAt(l, int(gocv.CC_STAT_AREA))); area*5 >= largest && area >= 2 {
			keepLabel[l] = true
			x, y := int(stats.GetIntAt(l, int(gocv.CC_STAT_LEFT))), int(stats.GetIntAt(l, int(gocv.CC_STAT_TOP)))
			w, h := int(stats.GetIntAt(l, int(gocv.CC_STAT_WIDTH))), int(stats.GetIntAt(l, int(gocv.CC_STAT_HEIGHT)))
			bbox = bbox.Union(image.Rect(x, y, x+w, y+h))
		}
	}
	if cap(r.keep) < r.size*r.size {
		r.keep = make([]bool, r.size*r.size)
	}
	keep := r.keep[:r.size*r.size]
	clear(keep)
	for y := bbox.Min.Y; y < bbox.Max.Y; y++ {
		for x := bbox.Min.X; x < bbox.Max.X; x++ {
			keep[y*r.size+x] = keepLabel[labels.GetIntAt(y, x)]
		}
	}
	return keep, bbox, nil
}

// collect lists the pixels the block fit compares: the kept silhouette's
// box widened by a margin (so the fit pays for drawing the T where the frame
// shows none), minus hidden pixels and the walls, every stride-th pixel.
func (r *PoseReader) collect(bbox image.Rectangle, hidden func(x, y int) bool, stride int) {
	margin := int(math.Ceil(24 / r.scale))
	roi := bbox.Inset(-margin).Intersect(image.Rect(0, 0, r.size, r.size))
	r.px, r.py, r.fv = r.px[:0], r.py[:0], r.fv[:0]
	for y := roi.Min.Y; y < roi.Max.Y; y += stride {
		wy := r.world(y)
		if wy < wallInner || wy > WorldSize-wallInner {
			continue
		}
		for x := roi.Min.X; x < roi.Max.X; x += stride {
			wx := r.world(x)
			if wx < wallInner || wx > WorldSize-wallInner || hidden(x, y) {
				continue
			}
			r.px = append(r.px, wx)
			r.py = append(r.py, wy)
			r.fv = append(r.fv, r.share[y*r.size+x])
		}
	}
}

// boxSD is the signed distance from body point (bx,by) to an axis-aligned
// box (centre cx,cy, half sizes hx,hy), negative inside, with its gradient.
func boxSD(bx, by, cx, cy, hx, hy float64) (d, gx, gy float64) {
	dx, dy := bx-cx, by-cy
	sx, sy := 1.0, 1.0
	if dx < 0 {
		dx, sx = -dx, -1
	}
	if dy < 0 {
		dy, sy = -dy, -1
	}
	qx, qy := dx-hx, dy-hy
	if qx > 0 && qy > 0 {
		d = math.Sqrt(qx*qx + qy*qy)
		return d, sx * qx / d, sy * qy / d
	}
	if qx > qy {
		return qx, sx, 0
	}
	return qy, 0, sy
}

// teeModel is the expected block share at body point (bx,by) for ramp
// width w, with its gradient in body coordinates.
func teeModel(bx, by, w float64) (m, gx, gy float64) {
	// Most pixels of the fit lie clearly outside the T: skip them cheaply.
	if reach := edgeRadius + w/2; bx < -60-reach || bx > 60+reach || by < -reach || by > 120+reach {
		return 0, 0, 0
	}
	// Bar: x in [-60,60], y in [0,30]; stem: x in [-15,15], y in [30,120].
	d1, g1x, g1y := boxSD(bx, by, 0, 15, 60, 15)
	d2, g2x, g2y := boxSD(bx, by, 0, 75, 15, 45)
	out, ox, oy := d1, g1x, g1y
	if d2 < d1 {
		out, ox, oy = d2, g2x, g2y
	}
	// Occupancy of the silhouette (the T grown by the edge lines).
	o, do := ramp((edgeRadius-out)/w + 0.5)
	if o == 0 {
		return 0, 0, 0
	}
	// Distance to the nearest drawn edge line, inside the T.
	fill, df := 0.0, 0.0
	var sx, sy float64
	if out < 0 {
		a1, a2 := -d1, -d2
		if d1 > 0 {
			a1 = d1
		}
		if d2 > 0 {
			a2 = d2
		}
		seg := a1
		sx, sy = -g1x, -g1y
		if d1 > 0 {
			sx, sy = g1x, g1y
		}
		if a2 < a1 {
			seg = a2
			sx, sy = -g2x, -g2y
			if d2 > 0 {
				sx, sy = g2x, g2y
			}
		}
		fill, df = ramp((seg-edgeRadius)/w + 0.5)
	}
	shade := edgeMix + (1-edgeMix)*fill
	m = o * shade
	// d(o)/d(out) = -do/w; d(fill)/d(seg) = df/w.
	gx = -do/w*ox*shade + o*(1-edgeMix)*df/w*sx
	gy = -do/w*oy*shade + o*(1-edgeMix)*df/w*sy
	return m, gx, gy
}

// ramp clamps t to [0,1] and reports its slope (1 inside the ramp).
func ramp(t float64) (float64, float64) {
	if t <= 0 {
		return 0, 0
	}
	if t >= 1 {
		return 1, 0
	}
	return t, 1
}

// teeCost is the squared error of the model at pose p over the collected
// pixels, with the gradient and Gauss-Newton Hessian in (X, Y, Angle).
func (r *PoseReader) teeCost(p Pose, w float64) (cost float64, g [3]float64, h [3][3]float64) {
	s, c := math.Sincos(p.Angle)
	for i := range r.px {
		dx, dy := r.px[i]-p.X, r.py[i]-p.Y
		bx, by := c*dx+s*dy, -s*dx+c*dy
		m, gx, gy := teeModel(bx, by, w)
		res := m - r.fv[i]
		cost += res * res
		if gx == 0 && gy == 0 {
			continue
		}
		// d(bx,by)/dX = (-c, s), /dY = (-s, -c), /dAngle = (by, -bx).
		j := [3]float64{-c*gx + s*gy, -s*gx - c*gy, by*gx - bx*gy}
		for a := 0; a < 3; a++ {
			g[a] += j[a] * res
			for b := a; b < 3; b++ {
				h[a][b] += j[a] * j[b]
			}
		}
	}
	h[1][0], h[2][0], h[2][1] = h[0][1], h[0][2], h[1][2]
	return cost, g, h
}

// fitTee refines a pose by Levenberg-Marquardt at ramp width w.
func (r *PoseReader) fitTee(p Pose, w float64, iters int) Pose {
	cost, g, h := r.teeCost(p, w)
	lambda := 1e-3
	for it := 0; it < iters; it++ {
		var a [3][3]float64
		for i := 0; i < 3; i++ {
			a[i] = h[i]
			a[i][i] += lambda*h[i][i] + 1e-9
		}
		step, ok := solve3(a, [3]float64{-g[0], -g[1], -g[2]})
		if !ok {
			break
		}
		// Beyond a ramp width the linear model says nothing.
		if n := math.Hypot(step[0], step[1]) + 60*math.Abs(step[2]); n > 2*w {
			for i := range step {
				step[i] *= 2 * w / n
			}
		}
		q := Pose{p.X + step[0], p.Y + step[1], p.Angle + step[2]}
		qc, qg, qh := r.teeCost(q, w)
		if qc < cost {
			p, cost, g, h = q, qc, qg, qh
			lambda = math.Max(lambda/3, 1e-6)
			if math.Hypot(step[0], step[1]) < 0.005 && math.Abs(step[2]) < 1e-4 {
				break
			}
			continue
		}
		lambda *= 8
		if lambda > 1e4 {
			break
		}
	}
	return p
}

// solve3 solves a 3x3 linear system by Cramer's rule.
func solve3(a [3][3]float64, b [3]float64) ([3]float64, bool) {
	det := func(m [3][3]float64) float64 {
		return m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) -
			m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) +
			m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	}
	d := det(a)
	if d == 0 || math.IsNaN(d) {
		return [3]float64{}, false
	}
	var x [3]float64
	for k := 0; k < 3; k++ {
		m := a
		for i := 0; i < 3; i++ {
			m[i][k] = b[i]
		}
		x[k] = det(m) / d
	}
	return x, true
}

// quality compares the fitted silhouette with the observed one over the
// collected pixels: IoU of the thresholded masks and the RMS residual.
func (r *PoseReader) quality(p Pose) (iou, rms float64) {
	s, c := math.Sincos(p.Angle)
	var inter, union, sq float64
	for i := range r.px {
		dx, dy := r.px[i]-p.X, r.py[i]-p.Y
		m, _, _ := teeModel(c*dx+s*dy, -s*dx+c*dy, 1.2)
		obs, mod := r.fv[i] > 0.5, m > 0.5
		if obs && mod {
			inter++
		}
		if obs || mod {
			union++
		}
		sq += (m - r.fv[i]) * (m - r.fv[i])
	}
	if union == 0 || len(r.px) == 0 {
		return 0, 0
	}
	return inter / union, math.Sqrt(sq / float64(len(r.px)))
}
