package raster

import (
	"fmt"
	"image"
	"math"
	"runtime"

	"gocv.io/x/gocv"
)

// Pix is the canvas's RGB bytes, row-major (H, W, 3). It aliases the
// canvas: the next drawing call changes it.
func (c *Canvas) Pix() []uint8 { return c.pix }

// At is the colour of pixel (x,y), which must be on the canvas.
func (c *Canvas) At(x, y int) RGB {
	i := (y*c.w + x) * 3
	return RGB{c.pix[i], c.pix[i+1], c.pix[i+2]}
}

// Pixel rounds a point in canvas units to a pixel like Python's round()
// (half to even), as the reference renderer does.
func Pixel(x, y float64) (int, int) {
	return int(math.RoundToEven(x)), int(math.RoundToEven(y))
}

// FatSegment is the reference's draw_fat_segment from (x1,y1) to (x2,y2): a
// 4-pixel-wide line, a quadrilateral widened by a rounded normal, and discs
// at both ends.
func (c *Canvas) FatSegment(ax, ay, bx, by, radius float64, col RGB) {
	x1, y1 := Pixel(ax, ay)
	x2, y2 := Pixel(bx, by)
	width := int(math.RoundToEven(math.Max(1, radius*2)))
	c.ThickLine(x1, y1, x2, y2, width, col)
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
	c.FillPoly(xs[:], ys[:], col)
	r := int(math.RoundToEven(radius))
	c.Circle(x1, y1, r, col)
	c.Circle(x2, y2, r, col)
}

// Resize resizes a square RGB image from from x from to to x to pixels with
// cv2.resize's default INTER_LINEAR, the call that produced PushT's
// recorded 96x96 frames.
func Resize(pix []uint8, from, to int) ([]uint8, error) {
	src, err := gocv.NewMatFromBytes(from, from, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		return nil, fmt.Errorf("raster: wrap frame: %w", err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.Resize(src, &dst, image.Pt(to, to), 0, 0, gocv.InterpolationLinear)
	out := dst.ToBytes()
	runtime.KeepAlive(pix)
	if len(out) != to*to*3 {
		return nil, fmt.Errorf("raster: resize gave %d bytes, want %d", len(out), to*to*3)
	}
	return out, nil
}
