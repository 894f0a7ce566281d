package raster

import "testing"

// The pixel-exact checks against pygame are foundation/pusht's golden
// render tests; these pin the documented extents.
func TestShapesCoverDocumentedPixels(t *testing.T) {
	red := RGB{255, 0, 0}
	tests := []struct {
		name   string
		draw   func(c *Canvas)
		in     [][2]int
		out    [][2]int
		filled int
	}{
		{"rectangle includes both ends", func(c *Canvas) { c.FillPoly([]int{2, 5, 5, 2}, []int{3, 3, 6, 6}, red) },
			[][2]int{{2, 3}, {5, 6}}, [][2]int{{1, 3}, {6, 6}, {2, 7}}, 16},
		{"disc covers [x0-r, x0+r-1]", func(c *Canvas) { c.Circle(8, 8, 3, red) },
			[][2]int{{5, 8}, {10, 8}, {8, 5}, {8, 10}}, [][2]int{{11, 8}, {8, 11}}, -1},
		{"clipped off the canvas", func(c *Canvas) { c.FillPoly([]int{-5, -1, -1, -5}, []int{0, 0, 4, 4}, red) },
			nil, [][2]int{{0, 0}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Canvas
			c.Ensure(16, 16)
			c.Fill(RGB{255, 255, 255})
			tc.draw(&c)
			for _, p := range tc.in {
				if c.At(p[0], p[1]) != red {
					t.Errorf("pixel %v not painted", p)
				}
			}
			for _, p := range tc.out {
				if c.At(p[0], p[1]) == red {
					t.Errorf("pixel %v painted", p)
				}
			}
			if tc.filled >= 0 {
				n := 0
				for y := range 16 {
					for x := range 16 {
						if c.At(x, y) == red {
							n++
						}
					}
				}
				if n != tc.filled {
					t.Errorf("%d pixels painted, want %d", n, tc.filled)
				}
			}
		})
	}
}

func TestResizeKeepsFlatColour(t *testing.T) {
	var c Canvas
	c.Ensure(64, 64)
	c.Fill(RGB{10, 200, 30})
	out, err := Resize(c.Pix(), 64, 16)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 16*16*3 || out[0] != 10 || out[1] != 200 || out[len(out)-1] != 30 {
		t.Errorf("resized flat frame: %d bytes, first %v", len(out), out[:3])
	}
}
