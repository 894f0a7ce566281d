package video

import (
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// testFrames draws a moving gradient square, smooth enough for a lossy
// codec to keep well.
func testFrames(n, w, h int) [][]uint8 {
	frames := make([][]uint8, n)
	for i := range frames {
		f := make([]uint8, w*h*3)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				p := (y*w + x) * 3
				f[p] = uint8(255 * x / w)
				f[p+1] = uint8(255 * y / h)
				f[p+2] = 200
				if x >= 10+i && x < 40+i && y >= 20 && y < 50 {
					f[p], f[p+1], f[p+2] = 30, 60, 220
				}
			}
		}
		frames[i] = f
	}
	return frames
}

func psnr(a, b []uint8) float64 {
	var se float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(len(a))))
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		w, h   int
		n      int
		writer func(string, [][]uint8, int, int, float64) error
		scale  int
	}{
		{"96x96 native", 96, 96, 30, WriteMP4, 1},
		{"non-square", 128, 64, 12, WriteMP4, 1},
		{"upscaled x4", 96, 96, 10, NewWriter(Options{Scale: 4}), 4},
		{"mpeg4", 96, 96, 10, NewWriter(Options{Codec: MPEG4}), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := testFrames(tc.n, tc.w, tc.h)
			p := filepath.Join(t.TempDir(), "v.mp4")
			if err := tc.writer(p, in, tc.w, tc.h, 10); err != nil {
				t.Fatal(err)
			}
			out, w, h, err := ReadMP4(p)
			if err != nil {
				t.Fatal(err)
			}
			if w != tc.w*tc.scale || h != tc.h*tc.scale || len(out) != tc.n {
				t.Fatalf("read %d frames of %dx%d, want %d of %dx%d", len(out), w, h, tc.n, tc.w*tc.scale, tc.h*tc.scale)
			}
			for i := range in {
				want := in[i]
				if tc.scale > 1 {
					want = Upscale(in[i], tc.w, tc.h, tc.scale)
				}
				if q := psnr(want, out[i]); q < 30 {
					t.Errorf("frame %d PSNR %.1f dB < 30", i, q)
				}
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	good := testFrames(2, 96, 96)
	tests := []struct {
		name   string
		frames [][]uint8
		w, h   int
		fps    float64
	}{
		{"no frames", nil, 96, 96, 10},
		{"odd width", testFrames(1, 95, 96), 95, 96, 10},
		{"wrong frame size", [][]uint8{good[0][:100]}, 96, 96, 10},
		{"zero fps", good, 96, 96, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteMP4(filepath.Join(t.TempDir(), "x.mp4"), tc.frames, tc.w, tc.h, tc.fps)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("unwritable path", func(t *testing.T) {
		err := WriteMP4(filepath.Join(t.TempDir(), "no", "such", "dir", "x.mp4"), good, 96, 96, 10)
		if !errors.Is(err, ErrCodec) {
			t.Fatalf("got %v, want ErrCodec", err)
		}
	})
	t.Run("read missing", func(t *testing.T) {
		if _, _, _, err := ReadMP4(filepath.Join(t.TempDir(), "none.mp4")); err == nil {
			t.Fatal("want error")
		}
	})
}

func TestSideBySideAndUpscale(t *testing.T) {
	a := []uint8{1, 2, 3, 4, 5, 6} // 2x1
	b := []uint8{7, 8, 9, 10, 11, 12}
	got := SideBySide(a, b, 2, 1)
	want := []uint8{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if string(got) != string(want) {
		t.Fatalf("SideBySide = %v", got)
	}
	up := Upscale([]uint8{1, 2, 3, 4, 5, 6}, 2, 1, 2) // 2x1 -> 4x2
	wantUp := []uint8{1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}
	if string(up) != string(wantUp) {
		t.Fatalf("Upscale = %v", up)
	}
}

func TestWritePNGRoundTrip(t *testing.T) {
	frame := make([]uint8, 4*2*3)
	for i := range frame {
		frame[i] = uint8(37 * i)
	}
	path := filepath.Join(t.TempDir(), "still.png")
	if err := WritePNG(path, frame, 4, 2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 8 {
		r, g, b, _ := img.At(i%4, i/4).RGBA()
		if got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; got != [3]uint8(frame[3*i:3*i+3]) {
			t.Errorf("pixel %d: %v, want %v", i, got, frame[3*i:3*i+3])
		}
	}
	if err := WritePNG(path, frame[1:], 4, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("short frame: %v, want ErrInvalid", err)
	}
}
