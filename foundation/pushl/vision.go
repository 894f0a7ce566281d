package pushl

import (
	"math"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/tabletop"
)

// ReadFrame reads the block's pose from a frame (size x size RGB) by its
// colour alone, for measuring imagined frames: every pixel's block share is
// unmixed from the table, target and block colours, and the share's
// moments give the centre (the CoG, in table pixels) and the turn (the
// L's principal axis, pointed by the sign of its third moment, less the
// axis the L has at turn 0). Pusher-blue pixels are left out. ok is false
// when too little of the block shows (under a third of its area).
func ReadFrame(frame []uint8, size int) (pose pusht.Pose, ok bool) {
	if len(frame) != size*size*3 || size <= 0 {
		return pusht.Pose{}, false
	}
	var sw, sx, sy float64
	share := make([]float64, size*size)
	for p := range size * size {
		r, g, b := float64(frame[3*p]), float64(frame[3*p+1]), float64(frame[3*p+2])
		if b-r > 60 {
			continue // the pusher
		}
		f := unmix[2][0]*(r-255) + unmix[2][1]*(g-255) + unmix[2][2]*(b-255)
		f = math.Min(1, math.Max(0, f))
		share[p] = f
		sw += f
		sx += f * (float64(p%size) + 0.5)
		sy += f * (float64(p/size) + 0.5)
	}
	k := float64(tabletop.WorldSize) / float64(size)
	if sw*k*k < Area/3 {
		return pusht.Pose{}, false
	}
	cx, cy := sx/sw, sy/sw
	var cxx, cyy, cxy float64
	for p, f := range share {
		dx, dy := float64(p%size)+0.5-cx, float64(p/size)+0.5-cy
		cxx += f * dx * dx
		cyy += f * dy * dy
		cxy += f * dx * dy
	}
	axis := 0.5 * math.Atan2(2*cxy, cxx-cyy)
	ux, uy := math.Cos(axis), math.Sin(axis)
	var m3 float64
	for p, f := range share {
		u := (float64(p%size)+0.5-cx)*ux + (float64(p/size)+0.5-cy)*uy
		m3 += f * u * u * u
	}
	if m3 < 0 {
		axis += math.Pi
	}
	a := math.Mod(axis-bodyAxis, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return pusht.Pose{X: cx * k, Y: cy * k, Angle: a}, true
}

// unmix is the inverse of the matrix whose columns are the target's, the
// grey axis's (the walls) and the block's departures from the table white:
// row 2 gives a pixel's block share from its departure from white.
var unmix = func() [3][3]float64 {
	cols := [3][3]float64{
		{float64(TargetColour[0]) - 255, float64(TargetColour[1]) - 255, float64(TargetColour[2]) - 255},
		{-1, -1, -1},
		{float64(BlockColour[0]) - 255, float64(BlockColour[1]) - 255, float64(BlockColour[2]) - 255},
	}
	// m[i][j] = cols[j][i]; invert by cofactors.
	var m [3][3]float64
	for i := range 3 {
		for j := range 3 {
			m[i][j] = cols[j][i]
		}
	}
	det := m[0][0]*(m[1][1]*m[2][2]-m[1][2]*m[2][1]) - m[0][1]*(m[1][0]*m[2][2]-m[1][2]*m[2][0]) + m[0][2]*(m[1][0]*m[2][1]-m[1][1]*m[2][0])
	var inv [3][3]float64
	for i := range 3 {
		for j := range 3 {
			a, b := (j+1)%3, (j+2)%3
			c, d := (i+1)%3, (i+2)%3
			inv[i][j] = (m[a][c]*m[b][d] - m[a][d]*m[b][c]) / det
		}
	}
	return inv
}()

// bodyAxis is the turn ReadFrame's moments give the L at pose angle 0:
// its major principal axis in body coordinates, pointed by the sign of the
// third moment (from a fine sampling of its parts).
var bodyAxis = func() float64 {
	var pts [][2]float64
	for _, part := range Parts {
		x0, y0, x1, y1 := part[0].X, part[0].Y, part[2].X, part[2].Y
		for y := y0 + 0.5; y < y1; y++ {
			for x := x0 + 0.5; x < x1; x++ {
				pts = append(pts, [2]float64{x, y})
			}
		}
	}
	var cxx, cyy, cxy float64
	for _, p := range pts {
		cxx += p[0] * p[0]
		cyy += p[1] * p[1]
		cxy += p[0] * p[1]
	}
	axis := 0.5 * math.Atan2(2*cxy, cxx-cyy)
	var m3 float64
	for _, p := range pts {
		u := p[0]*math.Cos(axis) + p[1]*math.Sin(axis)
		m3 += u * u * u
	}
	if m3 < 0 {
		axis += math.Pi
	}
	return axis
}()
