package overlap

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrBadInput: a frame or mask of the wrong size, or a colour that does not
// parse.
var ErrBadInput = errors.New("overlap: bad input")

// Colour is an RGB colour.
type Colour [3]uint8

// ParseColour reads "#rrggbb" or "r,g,b" (decimal).
func ParseColour(s string) (Colour, error) {
	var c Colour
	if hex, ok := strings.CutPrefix(s, "#"); ok {
		v, err := strconv.ParseUint(hex, 16, 32)
		if err != nil || len(hex) != 6 {
			return c, fmt.Errorf("%w: colour %q: want #rrggbb", ErrBadInput, s)
		}
		return Colour{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return c, fmt.Errorf("%w: colour %q: want #rrggbb or r,g,b", ErrBadInput, s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(strings.TrimSpace(p), 10, 8)
		if err != nil {
			return c, fmt.Errorf("%w: colour %q: component %q is not 0..255", ErrBadInput, s, p)
		}
		c[i] = uint8(v)
	}
	return c, nil
}

// DefaultTolerance is the Tolerance a zero Spec uses: about half the RGB
// distance from a light target colour to a white table.
const DefaultTolerance = 60.0

// Spec says what to look for.
type Spec struct {
	Object, Target Colour
	// Tolerance is the largest Euclidean RGB distance at which a pixel
	// still shows the target colour (for the target region), or the
	// object-target mix line (for coverage); 0 means DefaultTolerance.
	Tolerance float64
}

func (s Spec) tol() float64 {
	if s.Tolerance > 0 {
		return s.Tolerance
	}
	return DefaultTolerance
}

// Frame is an RGB image, row-major (H, W, 3).
type Frame struct {
	Pix  []uint8
	W, H int
}

func (f Frame) check() error {
	if f.W <= 0 || f.H <= 0 || len(f.Pix) != f.W*f.H*3 {
		return fmt.Errorf("%w: frame of %d bytes for %dx%d RGB", ErrBadInput, len(f.Pix), f.W, f.H)
	}
	return nil
}

func (f Frame) at(i int) [3]float64 {
	return [3]float64{float64(f.Pix[3*i]), float64(f.Pix[3*i+1]), float64(f.Pix[3*i+2])}
}

// isTarget: the pixel is within tolerance of the target colour.
func (s Spec) isTarget(p [3]float64) bool {
	return dist2(p, col(s.Target)) <= s.tol()*s.tol()
}

// isObject: the pixel lies within tolerance of the segment from the object
// colour to the target colour, on the object's half. A pixel of the
// object's colour counts wherever it is; mixes with the target split at
// their middle.
func (s Spec) isObject(p [3]float64) bool {
	o, g := col(s.Object), col(s.Target)
	var d, po [3]float64
	var dd, t float64
	for k := range 3 {
		d[k] = g[k] - o[k]
		po[k] = p[k] - o[k]
		dd += d[k] * d[k]
		t += po[k] * d[k]
	}
	if dd > 0 {
		t /= dd
	}
	if t >= 0.5 {
		return false
	}
	t = math.Max(t, 0)
	var e float64
	for k := range 3 {
		r := po[k] - t*d[k]
		e += r * r
	}
	return e <= s.tol()*s.tol()
}

func col(c Colour) [3]float64 { return [3]float64{float64(c[0]), float64(c[1]), float64(c[2])} }

func dist2(a, b [3]float64) float64 {
	var s float64
	for k := range 3 {
		s += (a[k] - b[k]) * (a[k] - b[k])
	}
	return s
}
