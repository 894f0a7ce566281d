package openpi

import (
	"encoding/binary"
	"fmt"
	"math"

	"dreamrank/foundation/ndarray"
	"dreamrank/policy"
)

// shape is an image's size, HWC.
type shape struct{ H, W, C int }

func (s shape) len() int { return s.H * s.W * s.C }

// squareRGB is the shape of an n-byte square RGB frame, if it is one: the
// frame size when nothing else says it (policy frames are bytes only).
func squareRGB(n int) (shape, bool) {
	side := int(math.Sqrt(float64(n / 3)))
	for _, s := range []int{side - 1, side, side + 1} {
		if s > 0 && s*s*3 == n {
			return shape{s, s, 3}, true
		}
	}
	return shape{}, false
}

// wireShape is the array shape of one image of shape s in layout l.
func (l Layout) wireShape(s shape) []int {
	if l.CHW {
		return []int{s.C, s.H, s.W}
	}
	return []int{s.H, s.W, s.C}
}

func (l Layout) wireDType() string {
	if l.Float32 {
		return "<f4"
	}
	return "|u1"
}

// toWire converts HWC uint8 frames of shape from to the layout's wire form
// at size to: resized, reordered, converted. batch stacks them into one
// [N,...] array (subgoals); otherwise there is one frame.
func (l Layout) toWire(frames [][]uint8, from, to shape, batch bool) *ndarray.Array {
	size := 1
	if l.Float32 {
		size = 4
	}
	data := make([]byte, 0, len(frames)*to.len()*size)
	for _, f := range frames {
		f = resize(f, from, to.H, to.W, l.Stretch)
		if l.CHW {
			f = hwcToCHW(f, to)
		}
		if !l.Float32 {
			data = append(data, f...)
			continue
		}
		for _, v := range f {
			data = binary.LittleEndian.AppendUint32(data, math.Float32bits(float32(v)/255))
		}
	}
	shp := l.wireShape(to)
	if batch {
		shp = append([]int{len(frames)}, shp...)
	}
	return &ndarray.Array{DType: l.wireDType(), Shape: shp, Data: data}
}

// blank is a black image of shape s on the wire.
func (l Layout) blank(s shape) *ndarray.Array {
	size := 1
	if l.Float32 {
		size = 4
	}
	return &ndarray.Array{DType: l.wireDType(), Shape: l.wireShape(s), Data: make([]byte, s.len()*size)}
}

// fromWire reads one image array of the layout (batch false) or a stack
// of them (batch true) and returns HWC uint8 frames and their shape. The
// dtype, the axis order and every dimension want knows (non-zero) must be
// as the layout says: a [3,96,96] array where [96,96,3] is wanted is an
// error, not a frame of the right byte count.
func (l Layout) fromWire(key string, v any, want shape, batch bool) ([][]uint8, shape, error) {
	a, ok := v.(*ndarray.Array)
	wantShape := l.wireShape(want)
	desc := fmt.Sprintf("%s %s", l.wireDType(), dims(wantShape))
	if batch {
		desc = fmt.Sprintf("%s [N,%s", l.wireDType(), dims(wantShape)[1:])
	}
	if !ok {
		return nil, shape{}, fmt.Errorf("%w: %s is %T, want an ndarray %s (layout %s)", policy.ErrBadInput, key, v, desc, l)
	}
	got := a.Shape
	n := 1
	if batch {
		if len(got) != 4 || got[0] > policy.MaxSubgoalImages {
			return nil, shape{}, fmt.Errorf("%w: %s is %s %v, want %s with N <= %d (layout %s)", policy.ErrBadInput, key, a.DType, got, desc, policy.MaxSubgoalImages, l)
		}
		n, got = got[0], got[1:]
	}
	if a.DType != l.wireDType() || len(got) != 3 || !fits(got, wantShape) {
		return nil, shape{}, fmt.Errorf("%w: %s is %s %v, want %s (layout %s)", policy.ErrBadInput, key, a.DType, a.Shape, desc, l)
	}
	s := shape{got[0], got[1], got[2]}
	if l.CHW {
		s = shape{got[1], got[2], got[0]}
	}
	if s.C < 1 || s.C > 4 {
		return nil, shape{}, fmt.Errorf("%w: %s has %d channels (1..4) (layout %s)", policy.ErrBadInput, key, s.C, l)
	}
	frames := make([][]uint8, n)
	for i := range frames {
		frames[i] = l.frameAt(a.Data, i, s)
	}
	return frames, s, nil
}

// frameAt is the i-th image of shape s in checked wire data, as HWC uint8.
func (l Layout) frameAt(data []byte, i int, s shape) []uint8 {
	per := s.len()
	f := make([]uint8, per)
	if l.Float32 {
		for j := range f {
			f[j] = unitToByte(math.Float32frombits(binary.LittleEndian.Uint32(data[4*(i*per+j):])))
		}
	} else {
		copy(f, data[i*per:(i+1)*per])
	}
	if l.CHW {
		f = chwToHWC(f, s)
	}
	return f
}

// fits: the same rank, and equal wherever want knows the dimension.
func fits(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] != 0 && got[i] != want[i] {
			return false
		}
	}
	return true
}

// dims renders a shape with "?" for unknown dimensions.
func dims(s []int) string {
	out := "["
	for i, d := range s {
		if i > 0 {
			out += ","
		}
		if d == 0 {
			out += "?"
		} else {
			out += fmt.Sprint(d)
		}
	}
	return out + "]"
}

// unitToByte maps [0,1] to 0..255, clipped and rounded (the inverse of
// v/255; openpi truncates, which can lose a level).
func unitToByte(x float32) uint8 {
	if !(x > 0) { // NaN too
		return 0
	}
	if x >= 1 {
		return 255
	}
	return uint8(math.Round(float64(x) * 255))
}

func hwcToCHW(f []uint8, s shape) []uint8 {
	out := make([]uint8, len(f))
	for y := range s.H {
		for x := range s.W {
			for c := range s.C {
				out[(c*s.H+y)*s.W+x] = f[(y*s.W+x)*s.C+c]
			}
		}
	}
	return out
}

func chwToHWC(f []uint8, s shape) []uint8 {
	out := make([]uint8, len(f))
	for c := range s.C {
		for y := range s.H {
			for x := range s.W {
				out[(y*s.W+x)*s.C+c] = f[(c*s.H+y)*s.W+x]
			}
		}
	}
	return out
}
