package video

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestStreamRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		fourcc string
		codec  string
		fps    float64
	}{
		{"h264 at 10 fps", H264, "h264", 10},
		{"mpeg4 at 30 fps", MPEG4, "mpeg4", 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v.mp4")
			frames := testFrames(25, 64, 64)
			sw, err := NewStreamWriter(path, 64, 64, tc.fps, []string{tc.fourcc})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range frames {
				if err := sw.Write(f); err != nil {
					t.Fatal(err)
				}
			}
			if err := sw.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := OpenStream(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if got := CodecName(r.Fourcc()); got != tc.codec {
				t.Errorf("codec %q (fourcc %q), want %q", got, r.Fourcc(), tc.codec)
			}
			for k := 0; ; k++ {
				rgb, w, h, ts, ok, err := r.Next()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					if k != len(frames) {
						t.Fatalf("decoded %d frames, wrote %d", k, len(frames))
					}
					break
				}
				// Frame times must be k/fps: LeRobot finds frames by time.
				if want := float64(k) / tc.fps; math.Abs(ts-want) > 1e-6 {
					t.Errorf("frame %d at %v s, want %v", k, ts, want)
				}
				if w != 64 || h != 64 {
					t.Fatalf("frame %d is %dx%d", k, w, h)
				}
				if p := psnr(rgb, frames[k]); p < 30 {
					t.Errorf("frame %d PSNR %.1f dB", k, p)
				}
			}
		})
	}
}

func TestOpenStreamNotAVideo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.mp4")
	os.WriteFile(path, []byte("not a video at all"), 0o644)
	r, err := OpenStream(path)
	if err == nil {
		_, _, _, _, _, err = r.Next()
		r.Close()
	}
	if !errors.Is(err, ErrCodec) {
		t.Fatalf("err = %v, want ErrCodec", err)
	}
}
