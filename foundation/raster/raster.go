package raster

// This file rasterises the way pygame 2.1's draw module does (filled
// polygons by integer scanlines, midpoint filled circles, Bresenham thick
// lines), so that frames match the reference renderer pixel for pixel. The
// algorithms are re-derived from pygame's documented behaviour and checked
// against pygame output by foundation/pusht's golden render tests.

// RGB is one pixel colour.
type RGB [3]uint8

// Canvas is an RGB, row-major, y-down image with pygame's clipping to the
// whole surface. The zero value is empty; Ensure sizes it.
type Canvas struct {
	w, h int
	pix  []uint8
}

// Ensure sizes the canvas to w x h, keeping its pixels when the size is
// unchanged (callers repaint everything each frame).
func (c *Canvas) Ensure(w, h int) {
	if c.w != w || c.h != h || len(c.pix) != w*h*3 {
		c.w, c.h = w, h
		c.pix = make([]uint8, w*h*3)
	}
}

// Fill paints the whole canvas.
func (c *Canvas) Fill(col RGB) {
	if len(c.pix) == 0 {
		return
	}
	c.pix[0], c.pix[1], c.pix[2] = col[0], col[1], col[2]
	// Doubling copies run at memmove speed; a per-pixel loop dominated renders.
	for n := 3; n < len(c.pix); n *= 2 {
		copy(c.pix[n:], c.pix[:n])
	}
}

// Inside reports whether pixel (x,y) is on the canvas.
func (c *Canvas) Inside(x, y int) bool {
	return x >= 0 && x < c.w && y >= 0 && y < c.h
}

// Set paints one pixel; pixels off the canvas are ignored.
func (c *Canvas) Set(x, y int, col RGB) {
	if !c.Inside(x, y) {
		return
	}
	i := (y*c.w + x) * 3
	c.pix[i], c.pix[i+1], c.pix[i+2] = col[0], col[1], col[2]
}

// HLine fills [x1,x2] (either order, both ends included) on row y, clipped.
func (c *Canvas) HLine(x1, y, x2 int, col RGB) {
	if y < 0 || y >= c.h {
		return
	}
	if x2 < x1 {
		x1, x2 = x2, x1
	}
	x1 = max(x1, 0)
	x2 = min(x2, c.w-1)
	if x2 < x1 {
		return
	}
	row := c.pix[(y*c.w)*3:]
	for x := x1; x <= x2; x++ {
		row[x*3], row[x*3+1], row[x*3+2] = col[0], col[1], col[2]
	}
}

// Line is the 1-pixel Bresenham line, both endpoints included.
func (c *Canvas) Line(x1, y1, x2, y2 int, col RGB) {
	if y1 == y2 {
		c.HLine(x1, y1, x2, col)
		return
	}
	dx, sx := iabs(x2-x1), isign(x2-x1)
	dy, sy := iabs(y2-y1), isign(y2-y1)
	err := -dy / 2
	if dx > dy {
		err = dx / 2
	}
	for x1 != x2 || y1 != y2 {
		c.Set(x1, y1, col)
		e2 := err
		if e2 > -dx {
			err -= dy
			x1 += sx
		}
		if e2 < dy {
			err += dx
			y1 += sy
		}
	}
	c.Set(x2, y2, col)
}

// FillPoly fills a polygon given by integer vertices (the list may repeat
// the first vertex at the end, as the reference passes it). Each row y takes
// the crossings of edges with y1 <= y < y2 (plus edges ending on the last
// row), pairs them after sorting, and horizontal edges strictly inside the
// vertical range are drawn explicitly. Crossing x truncates toward zero.
func (c *Canvas) FillPoly(xs, ys []int, col RGB) {
	n := len(xs)
	miny, maxy := ys[0], ys[0]
	minx, maxx := xs[0], xs[0]
	for i := 1; i < n; i++ {
		miny, maxy = min(miny, ys[i]), max(maxy, ys[i])
		minx, maxx = min(minx, xs[i]), max(maxx, xs[i])
	}
	if miny == maxy {
		c.HLine(minx, miny, maxx, col)
		return
	}
	var buf [16]int
	for y := miny; y <= maxy; y++ {
		cross := buf[:0]
		for i := 0; i < n; i++ {
			prev := i - 1
			if i == 0 {
				prev = n - 1
			}
			x1, y1, x2, y2 := xs[prev], ys[prev], xs[i], ys[i]
			if y1 == y2 {
				continue
			}
			if y1 > y2 {
				x1, y1, x2, y2 = x2, y2, x1, y1
			}
			if (y >= y1 && y < y2) || (y == maxy && y2 == maxy) {
				cross = append(cross, (y-y1)*(x2-x1)/(y2-y1)+x1)
			}
		}
		insertionSort(cross)
		for i := 0; i+1 < len(cross); i += 2 {
			c.HLine(cross[i], y, cross[i+1], col)
		}
	}
	for i := 0; i < n; i++ {
		prev := i - 1
		if i == 0 {
			prev = n - 1
		}
		if y := ys[i]; miny < y && ys[prev] == y && y < maxy {
			c.HLine(xs[i], y, xs[prev], col)
		}
	}
}

// Circle fills a disc of integer radius r centred on pixel (x0,y0) with the
// midpoint algorithm; the disc covers [x0-r, x0+r-1] x [y0-r, y0+r-1].
func (c *Canvas) Circle(x0, y0, r int, col RGB) {
	if r < 1 {
		return
	}
	f := 1 - r
	ddx, ddy := 0, -2*r
	x, y := 0, r
	for x < y {
		if f >= 0 {
			y--
			ddy += 2
			f += ddy
		}
		x++
		ddx += 2
		f += ddx + 1
		if f >= 0 {
			c.HLine(x0-x, y0+y-1, x0+x-1, col)
			c.HLine(x0-x, y0-y, x0+x-1, col)
		}
		c.HLine(x0-y, y0+x-1, x0+y-1, col)
		c.HLine(x0-y, y0-x, x0+y-1, col)
	}
}

// ThickLine draws a line of the given width (> 1): Bresenham along the
// line, extending each step across the minor axis by width pixels (rows of
// x for steep lines, columns of y for flat ones), after clipping the
// endpoints to the surface like pygame does.
func (c *Canvas) ThickLine(x1, y1, x2, y2, width int, col RGB) {
	if width < 1 {
		return
	}
	endX, endY := x2, y2
	xinc := iabs(x1-x2) <= iabs(y1-y2)
	dx, sx := iabs(x2-x1), 1
	if x1 >= x2 {
		sx = -1
	}
	dy, sy := iabs(y2-y1), 1
	if y1 >= y2 {
		sy = -1
	}
	err := -dy / 2
	if dx > dy {
		err = dx / 2
	}
	if !c.clipLine(&x1, &y1, &x2, &y2) {
		return
	}
	if width == 1 {
		c.Line(x1, y1, x2, y2, col)
		return
	}
	var lo, hi int
	if xinc {
		lo, hi = x1-(width-1)/2, x1+width/2
	} else {
		lo, hi = y1-(width-1)/2, y1+width/2
	}
	span := func() {
		if xinc {
			c.HLine(lo, y1, hi, col)
		} else {
			for y := lo; y <= hi; y++ {
				c.Set(x1, y, col)
			}
		}
	}
	for signOr(x1-x2, sx) != sx || signOr(y1-y2, sy) != sy {
		span()
		e2 := err
		if e2 > -dx {
			err -= dy
			x1 += sx
			if xinc {
				lo, hi = lo+sx, hi+sx
			}
		}
		if e2 < dy {
			err += dx
			y1 += sy
			if !xinc {
				lo, hi = lo+sy, hi+sy
			}
		}
	}
	// Continue to the unclipped end while the span still touches the surface.
	if xinc {
		for y1 != endY && (c.Inside(lo, y1) || c.Inside(hi, y1)) {
			span()
			e2 := err
			if e2 > -dx {
				err -= dy
				x1 += sx
				lo, hi = lo+sx, hi+sx
			}
			if e2 < dy {
				err += dx
				y1 += sy
			}
		}
	} else {
		for x1 != endX && (c.Inside(x1, lo) || c.Inside(x1, hi)) {
			span()
			e2 := err
			if e2 > -dx {
				err -= dy
				x1 += sx
			}
			if e2 < dy {
				err += dx
				y1 += sy
				lo, hi = lo+sy, hi+sy
			}
		}
	}
	span()
}

// clipLine is Liang–Barsky clipping against [0,w] x [0,h] with pygame's
// rounding of the clipped endpoints; false when the line misses.
func (c *Canvas) clipLine(x1, y1, x2, y2 *int) bool {
	p1 := *x1 - *x2
	p2 := -p1
	p3 := *y1 - *y2
	p4 := -p3
	q1 := *x1
	q2 := c.w - *x1
	q3 := *y1
	q4 := c.h - *y1
	ox, oy := *x1, *y1
	nmax, pmin := 0.0, 1.0
	if (p1 == 0 && q1 < 0) || (p2 == 0 && q2 < 0) || (p3 == 0 && q3 < 0) || (p4 == 0 && q4 < 0) {
		return false
	}
	clip := func(p, q, pn, qn int) {
		if p == 0 {
			return
		}
		r1 := float64(q) / float64(p)
		r2 := float64(qn) / float64(pn)
		if p < 0 {
			nmax = max(nmax, r1)
			pmin = min(pmin, r2)
		} else {
			nmax = max(nmax, r2)
			pmin = min(pmin, r1)
		}
	}
	clip(p1, q1, p2, q2)
	clip(p3, q3, p4, q4)
	if nmax > pmin {
		return false
	}
	*x1 = ox + roundAway(float64(p2)*nmax)
	*y1 = oy + roundAway(float64(p4)*nmax)
	*x2 = ox + roundAway(float64(p2)*pmin)
	*y2 = oy + roundAway(float64(p4)*pmin)
	return true
}

// roundAway rounds half away from zero, as (int)(v ± 0.5) does in C.
func roundAway(v float64) int {
	if v < 0 {
		return int(v - 0.5)
	}
	return int(v + 0.5)
}

func iabs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func isign(v int) int {
	if v < 0 {
		return -1
	}
	return 1
}

// signOr is the sign of x, or def when x is zero.
func signOr(x, def int) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return def
}

func insertionSort(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
