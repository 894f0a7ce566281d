package openpi

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"dreamrank/foundation/ndarray"
	"dreamrank/policy"
)

func TestResize(t *testing.T) {
	ramp := []uint8{0, 0, 0, 90, 90, 90} // 1x2 RGB: black then grey
	tests := []struct {
		name    string
		src     []uint8
		from    shape
		h, w    int
		stretch bool
		want    []uint8
	}{
		{"same size is a no-op", ramp, shape{1, 2, 3}, 1, 2, false, ramp},
		// PIL's bilinear on 2 -> 4: centres at 0.25 and 0.75 of a source
		// pixel from each edge.
		{"upsample a ramp", []uint8{0, 100}, shape{1, 2, 1}, 1, 4, true, []uint8{0, 25, 75, 100}},
		// Shrinking widens the filter: 4 -> 2 weighs three source pixels
		// each, 0.75, 0.75, 0.25 (PIL's window around centres 1 and 3):
		// (40*0.75 + 80*0.25)/1.75 = 28.6 and (40*0.25 + 80*0.75 + 120*0.75)/1.75 = 91.4.
		{"downsample averages", []uint8{0, 40, 80, 120}, shape{1, 4, 1}, 1, 2, true, []uint8{29, 91}},
		{"constant stays constant", constFrame(5, 7, [3]uint8{11, 22, 33}), shape{5, 7, 3}, 13, 3, true, constFrame(13, 3, [3]uint8{11, 22, 33})},
		// resize_with_pad: 2x4 into 4x4 scales to 2x4 and pads one row
		// above and below.
		{"pad keeps the aspect ratio", []uint8{9, 9, 9, 9, 9, 9, 9, 9}, shape{2, 4, 1}, 4, 4, false,
			[]uint8{0, 0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0, 0}},
		{"stretch does not pad", []uint8{9, 9, 9, 9, 9, 9, 9, 9}, shape{2, 4, 1}, 4, 4, true, bytes.Repeat([]uint8{9}, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resize(tt.src, tt.from, tt.h, tt.w, tt.stretch); !bytes.Equal(got, tt.want) {
				t.Fatalf("resize = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWireRoundTrip: every preset's wire form reads back to the frame.
func TestWireRoundTrip(t *testing.T) {
	frame := make([]uint8, 4*6*3)
	for i := range frame {
		frame[i] = uint8(i * 7)
	}
	s := shape{4, 6, 3}
	for _, name := range Presets() {
		for _, f32 := range []bool{false, true} {
			l, _ := Preset(name)
			l.Float32 = f32
			a := l.toWire([][]uint8{frame}, s, s, false)
			back, got, err := l.fromWire("img", a, s, false)
			if err != nil || got != s || !bytes.Equal(back[0], frame) {
				t.Errorf("%s float32=%v: %v %v, frame differs: %v", name, f32, got, err, !bytes.Equal(back[0], frame))
			}
			stack := l.toWire([][]uint8{frame, frame}, s, s, true)
			if n := len(stack.Shape); n != 4 || stack.Shape[0] != 2 {
				t.Errorf("%s: stacked shape %v", name, stack.Shape)
			}
		}
	}
	chw, _ := Preset(LayoutALOHA)
	if a := chw.toWire([][]uint8{frame}, s, s, false); a.Shape[0] != 3 || a.Data[1] != frame[3] {
		t.Errorf("CHW: shape %v, second byte %d want %d (the next pixel's red)", a.Shape, a.Data[1], frame[3])
	}
}

func TestFromWireRefuses(t *testing.T) {
	hwc := Layout{}.withDefaults()
	want := shape{96, 96, 3}
	tests := []struct {
		name string
		v    any
		msg  string
	}{
		{"channels first where last is wanted", ndarray.NewUint8(make([]uint8, 96*96*3), 3, 96, 96), "img is |u1 [3 96 96], want |u1 [96,96,3]"},
		{"float", ndarray.NewFloat32(make([]float32, 96*96*3), 96, 96, 3), "img is <f4 [96 96 3], want |u1 [96,96,3]"},
		{"flat bytes", ndarray.NewUint8(make([]uint8, 96*96*3), 96*96*3), "want |u1 [96,96,3]"},
		{"other size", ndarray.NewUint8(make([]uint8, 64*64*3), 64, 64, 3), "want |u1 [96,96,3]"},
		{"not an array", "pixels", "img is string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := hwc.fromWire("img", tt.v, want, false)
			if !errors.Is(err, policy.ErrBadInput) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want ErrBadInput with %q", err, tt.msg)
			}
		})
	}
	// Unknown dimensions are not checked, but channels stay 1..4.
	if _, _, err := hwc.fromWire("img", ndarray.NewUint8(make([]uint8, 2*2*5), 2, 2, 5), shape{}, false); err == nil {
		t.Error("5 channels accepted")
	}
}

func TestSquareRGB(t *testing.T) {
	for n, want := range map[int]shape{96 * 96 * 3: {96, 96, 3}, 3: {1, 1, 3}, 224 * 224 * 3: {224, 224, 3}} {
		if got, ok := squareRGB(n); !ok || got != want {
			t.Errorf("squareRGB(%d) = %v %v", n, got, ok)
		}
	}
	for _, n := range []int{0, 1, 4 * 5 * 3, 96 * 96} {
		if _, ok := squareRGB(n); ok {
			t.Errorf("squareRGB(%d) claims a square RGB frame", n)
		}
	}
}

// FuzzDecodeObservation feeds the server's observation decoder arbitrary
// messages in each layout: it never panics, and what it accepts fits the
// policy's spec.
func FuzzDecodeObservation(f *testing.F) {
	spec := policy.Spec{FrameH: 4, FrameW: 4, Channels: 3, ProprioDim: 8}
	for i, name := range Presets() {
		l, _ := Preset(name)
		l.Height, l.Width = 0, 0
		m, err := encoder{layout: l, local: shape{4, 4, 3}}.encode(policy.Observation{Image: make([]uint8, 48), Proprio: make([]float32, 8)},
			&policy.Context{Task: "t", Subtask: "s", SubgoalImages: [][]uint8{make([]uint8, 48)}})
		if err != nil {
			f.Fatal(err)
		}
		b, err := ndarray.Pack(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Add(uint8(0), []byte{0x80})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		l, _ := Preset(Presets()[int(which)%len(Presets())])
		v, err := ndarray.Unpack(b)
		if err != nil {
			return
		}
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, sized := range []bool{false, true} {
			if !sized {
				l.Height, l.Width = 0, 0
			}
			o, c, err := decoder{layout: l, spec: spec}.decode(m)
			if err != nil {
				if !errors.Is(err, policy.ErrBadInput) && !errors.Is(err, ndarray.ErrBadArray) {
					t.Fatalf("error %v is neither ErrBadInput nor ErrBadArray", err)
				}
				continue
			}
			if len(o.Image) != spec.FrameLen() {
				t.Fatalf("accepted an image of %d bytes", len(o.Image))
			}
			for name, f := range o.Frames {
				if len(f) != spec.FrameLen() {
					t.Fatalf("accepted frame %s of %d bytes", name, len(f))
				}
			}
			for _, g := range c.SubgoalImages {
				if len(g) != spec.FrameLen() {
					t.Fatalf("accepted a subgoal of %d bytes", len(g))
				}
			}
		}
	})
}
