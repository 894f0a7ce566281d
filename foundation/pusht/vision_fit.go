package pusht

// Fitting the T block to the observed block share of a frame (see
// vision.go for the method).

import (
	"image"
	"math"
)

// readBlock finds the block's pixels, guesses the pose from their moments
// and refines it against the synthetic model.
func (r *PoseReader) readBlock(agent Vec2, agentOK bool, prior *Pose) (blockFit, bool) {
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
	keep, bbox := r.blockComponents()
	if keep == nil {
		return blockFit{}, false
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
		return blockFit{}, false
	}
	if prior != nil {
		if fit := r.fitFrom(bbox, hidden, *prior); fit.quality >= trackQuality {
			return fit, true
		}
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
	return fit, true
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

// fitFrom refines a prior pose (the previous frame's) at full resolution
// and sharpness, skipping the blurred search: a block moves a few pixels
// per frame, well inside the sharp fit's basin.
func (r *PoseReader) fitFrom(bbox image.Rectangle, hidden func(x, y int) bool, prior Pose) blockFit {
	r.collect(bbox, hidden, 1)
	p := prior
	for _, w := range []float64{4, 2, 1.2} {
		p = r.fitTee(p, w, 10)
	}
	q, res := r.quality(p)
	return blockFit{p, q, res}
}

// blockComponents keeps the connected pieces of the block mask that are
// large next to the largest one, so stray specks (noise in imagined
// frames) do not pull the first guess, while a T cut in two by the pusher
// keeps both halves. It returns nil when nothing is left.
func (r *PoseReader) blockComponents() ([]bool, image.Rectangle) {
	count := r.comps.find(r.mask, r.size)
	largest := 0
	for l := 1; l < count; l++ {
		largest = max(largest, r.comps.area[l])
	}
	if largest == 0 {
		return nil, image.Rectangle{}
	}
	keepLabel := make([]bool, count)
	var bbox image.Rectangle
	for l := 1; l < count; l++ {
		if area := r.comps.area[l]; area*5 >= largest && area >= 2 {
			keepLabel[l] = true
			bbox = bbox.Union(r.comps.box[l])
		}
	}
	if cap(r.keep) < r.size*r.size {
		r.keep = make([]bool, r.size*r.size)
	}
	keep := r.keep[:r.size*r.size]
	clear(keep)
	for y := bbox.Min.Y; y < bbox.Max.Y; y++ {
		for x := bbox.Min.X; x < bbox.Max.X; x++ {
			keep[y*r.size+x] = keepLabel[r.comps.labels[y*r.size+x]]
		}
	}
	return keep, bbox
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
	// teeModel's own early exit, tested here first: most pixels are far
	// from the T and add only their squared share, without a call.
	reach := edgeRadius + w/2
	xlo, xhi, ylo, yhi := -60-reach, 60+reach, -reach, 120+reach
	px := r.px
	py, fv := r.py[:len(px)], r.fv[:len(px)]
	for i := range px {
		dx, dy := px[i]-p.X, py[i]-p.Y
		bx, by := c*dx+s*dy, -s*dx+c*dy
		if bx < xlo || bx > xhi || by < ylo || by > yhi {
			res := 0 - fv[i]
			cost += res * res
			continue
		}
		m, gx, gy := teeModel(bx, by, w)
		res := m - fv[i]
		cost += res * res
		if gx == 0 && gy == 0 {
			continue
		}
		// d(bx,by)/dX = (-c, s), /dY = (-s, -c), /dAngle = (by, -bx).
		j0, j1, j2 := -c*gx+s*gy, -s*gx-c*gy, by*gx-bx*gy
		g[0] += j0 * res
		h[0][0] += j0 * j0
		h[0][1] += j0 * j1
		h[0][2] += j0 * j2
		g[1] += j1 * res
		h[1][1] += j1 * j1
		h[1][2] += j1 * j2
		g[2] += j2 * res
		h[2][2] += j2 * j2
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

// trackQuality is the IoU a fit from the previous frame's pose must reach
// to be kept; below it Track searches as Read does.
const trackQuality = 0.93
