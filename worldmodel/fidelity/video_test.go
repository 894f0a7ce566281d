package fidelity

import (
	"errors"
	"path/filepath"
	"testing"

	"dreamrank/foundation/video"
)

func TestWriteRolloutVideo(t *testing.T) {
	eps := testEpisodes(t)
	real := eps[0].Frames[1:11]
	imagined := eps[0].Frames[0:10]
	const w, h = 96, 96
	tests := []struct {
		name         string
		real         [][]uint8
		wantW, wantH int
	}{
		{"imagined beside real", real, 2 * w * VideoScale, h * VideoScale},
		{"imagined only", nil, w * VideoScale, h * VideoScale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rollout.mp4")
			if err := WriteRolloutVideo(path, imagined, tc.real, w, h, 10); err != nil {
				t.Fatal(err)
			}
			frames, gw, gh, err := video.ReadMP4(path)
			if err != nil {
				t.Fatal(err)
			}
			if gw != tc.wantW || gh != tc.wantH || len(frames) != len(imagined) {
				t.Errorf("video %dx%d with %d frames, want %dx%d with %d", gw, gh, len(frames), tc.wantW, tc.wantH, len(imagined))
			}
		})
	}
}

func TestWriteRolloutVideoBadInput(t *testing.T) {
	eps := testEpisodes(t)
	f := eps[0].Frames
	tests := []struct {
		name           string
		imagined, real [][]uint8
	}{
		{"no frames", nil, nil},
		{"length mismatch", f[:3], f[:2]},
		{"short frame", [][]uint8{f[0][:50]}, [][]uint8{f[1]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := WriteRolloutVideo(filepath.Join(t.TempDir(), "x.mp4"), tc.imagined, tc.real, 96, 96, 10)
			if !errors.Is(err, ErrBadFrame) {
				t.Errorf("err = %v, want ErrBadFrame", err)
			}
		})
	}
}
