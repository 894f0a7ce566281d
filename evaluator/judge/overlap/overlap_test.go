package overlap

import (
	"encoding/json"
	"errors"
	"math"
	"os/exec"
	"strings"
	"testing"
)

var (
	orange = Colour{255, 140, 0}
	violet = Colour{238, 130, 238}
	white  = Colour{255, 255, 255}
	blue   = Colour{65, 105, 225}
	spec   = Spec{Object: orange, Target: violet}
)

func TestParseColour(t *testing.T) {
	tests := []struct {
		in      string
		want    Colour
		wantErr bool
	}{
		{"#ff8c00", orange, false},
		{"238,130,238", violet, false},
		{" 1, 2 ,3", Colour{1, 2, 3}, false},
		{"#ff8c0", Colour{}, true},
		{"#gg8c00", Colour{}, true},
		{"1,2", Colour{}, true},
		{"1,2,256", Colour{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseColour(tc.in)
			if (err != nil) != tc.wantErr || (err == nil && got != tc.want) {
				t.Errorf("ParseColour = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrBadInput) {
				t.Errorf("error %v is not ErrBadInput", err)
			}
		})
	}
}

// canvas is a w x h frame filled with white, painted by rectangles.
type canvas struct{ Frame }

func newCanvas(w, h int) *canvas {
	c := &canvas{Frame{W: w, H: h, Pix: make([]uint8, w*h*3)}}
	c.rect(0, 0, w, h, white)
	return c
}

func (c *canvas) rect(x0, y0, x1, y1 int, col Colour) *canvas {
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			copy(c.Pix[(y*c.W+x)*3:], col[:])
		}
	}
	return c
}

func mix(a, b Colour, t float64) Colour {
	var out Colour
	for k := range 3 {
		out[k] = uint8(math.Round((1-t)*float64(a[k]) + t*float64(b[k])))
	}
	return out
}

func TestCoverage(t *testing.T) {
	target := newCanvas(20, 20).rect(5, 5, 15, 15, violet) // 100 px
	mask, err := TargetMask(spec, target.Frame)
	if err != nil || mask.Len() != 100 {
		t.Fatalf("mask of %d px, %v; want 100", mask.Len(), err)
	}
	tests := []struct {
		name  string
		frame *canvas
		want  float64
	}{
		{"uncovered", target, 0},
		{"left half", newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(0, 5, 10, 15, orange), 0.5},
		{"fully covered and beyond", newCanvas(20, 20).rect(2, 2, 18, 18, orange), 1},
		{"pusher on the target is not the object", newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(5, 5, 10, 10, blue), 0},
		{"object-heavy mixes count", newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(5, 5, 15, 10, mix(orange, violet, 0.4)), 0.5},
		{"target-heavy mixes do not", newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(5, 5, 15, 10, mix(orange, violet, 0.6)), 0},
		{"object-table mixes outside tolerance do not", newCanvas(20, 20).rect(5, 5, 15, 15, mix(orange, white, 0.5)), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Coverage(spec, tc.frame.Frame, mask)
			if err != nil || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("Coverage = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestTargetMask(t *testing.T) {
	// Frame a hides the left half of the target, frame b part of the right; the
	// union sees all of it. Frame c hides the centre, which its visible
	// ring encloses; frame d hides the left edge, which nothing encloses.
	a := newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(5, 5, 10, 15, orange)
	b := newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(11, 5, 14, 15, blue)
	c := newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(8, 8, 12, 12, orange)
	d := newCanvas(20, 20).rect(5, 5, 15, 15, violet).rect(3, 5, 7, 15, orange)
	tests := []struct {
		name   string
		frames []Frame
		want   int
	}{
		{"union of partial views", []Frame{a.Frame, b.Frame}, 100},
		{"enclosed hole filled", []Frame{c.Frame}, 100},
		{"open bite stays out", []Frame{d.Frame}, 80},
		{"no target", []Frame{newCanvas(20, 20).Frame}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := TargetMask(spec, tc.frames...)
			if err != nil || m.Len() != tc.want {
				t.Errorf("mask of %d px, %v; want %d", m.Len(), err, tc.want)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	good := newCanvas(20, 20).Frame
	mask, _ := TargetMask(spec, good)
	tests := []struct {
		name string
		err  error
	}{
		{"no frames", func() error { _, err := TargetMask(spec); return err }()},
		{"frames of two sizes", func() error { _, err := TargetMask(spec, good, newCanvas(10, 20).Frame); return err }()},
		{"short frame", func() error { _, err := Coverage(spec, Frame{Pix: good.Pix[1:], W: 20, H: 20}, mask); return err }()},
		{"mask of another size", func() error { _, err := Coverage(spec, newCanvas(10, 10).Frame, mask); return err }()},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, ErrBadInput) {
			t.Errorf("%s: %v, want ErrBadInput", tc.name, tc.err)
		}
	}
}

// TestNoSceneImports: the package reads any scene, so it may depend on
// nothing of the module (no simulator, no scene constants).
func TestNoSceneImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct{ ImportPath string }
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.ImportPath, "dreamrank/") && p.ImportPath != "dreamrank/evaluator/judge/overlap" {
			t.Errorf("depends on %s", p.ImportPath)
		}
	}
}
