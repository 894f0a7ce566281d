package video

import (
	"errors"
	"fmt"
	"os"

	"gocv.io/x/gocv"
)

// Sentinel errors.
var (
	// ErrInvalid: frames of the wrong size, no frames, bad dimensions.
	ErrInvalid = errors.New("video: invalid input")
	// ErrCodec: OpenCV could not open a writer or reader for the file.
	ErrCodec = errors.New("video: codec unavailable or file unreadable")
)

// Codecs (OpenCV fourccs). Debian 12's OpenCV 4.6 (ffmpeg backend) writes
// both into mp4.
const (
	// H264 ("avc1", ffmpeg's libx264) plays in browsers, which the HTML
	// reports need. About 3,700 frames/s at 96x96 here.
	H264 = "avc1"
	// MPEG4 ("mp4v", MPEG-4 part 2) is about 4.5 times faster to write
	// but browsers do not play it; every ffmpeg build has it.
	MPEG4 = "mp4v"
)

// WriteMP4 writes RGB frames (w*h*3 bytes each) to path at fps as H.264,
// falling back to MPEG-4 part 2 when H.264 is unavailable. Encoding is
// lossy. Dimensions must be even (4:2:0 chroma needs it).
func WriteMP4(path string, frames [][]uint8, w, h int, fps float64) error {
	return writeMP4(path, frames, w, h, fps, []string{H264, MPEG4})
}

// Options for NewWriter.
type Options struct {
	Codec string // H264 (default, with MPEG4 fallback) or MPEG4
	Scale int    // integer nearest-neighbour upscaling; 0 or 1 keeps the size
}

// NewWriter returns a function with WriteMP4's signature (what
// episode.PutOptions.Video takes) that writes with the given options.
func NewWriter(o Options) func(path string, frames [][]uint8, w, h int, fps float64) error {
	codecs := []string{H264, MPEG4}
	if o.Codec == MPEG4 {
		codecs = []string{MPEG4}
	}
	return func(path string, frames [][]uint8, w, h int, fps float64) error {
		if o.Scale > 1 {
			big := make([][]uint8, len(frames))
			for i, f := range frames {
				if len(f) != w*h*3 {
					return fmt.Errorf("%w: frame %d has %d bytes, want %d", ErrInvalid, i, len(f), w*h*3)
				}
				big[i] = Upscale(f, w, h, o.Scale)
			}
			frames, w, h = big, w*o.Scale, h*o.Scale
		}
		return writeMP4(path, frames, w, h, fps, codecs)
	}
}

func writeMP4(path string, frames [][]uint8, w, h int, fps float64, fourccs []string) error {
	if len(frames) == 0 || w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 || !(fps > 0) {
		return fmt.Errorf("%w: %d frames of %dx%d at %v fps", ErrInvalid, len(frames), w, h, fps)
	}
	for i, f := range frames {
		if len(f) != w*h*3 {
			return fmt.Errorf("%w: frame %d has %d bytes, want %d", ErrInvalid, i, len(f), w*h*3)
		}
	}
	var (
		vw  *gocv.VideoWriter
		err error
	)
	for _, cc := range fourccs {
		vw, err = gocv.VideoWriterFile(path, cc, fps, w, h, true)
		if err == nil && vw.IsOpened() {
			break
		}
		if vw != nil {
			vw.Close()
			vw = nil
		}
	}
	if vw == nil {
		os.Remove(path)
		return fmt.Errorf("%w: no mp4 writer for %s (%v)", ErrCodec, path, err)
	}
	bgr := make([]byte, w*h*3)
	for _, f := range frames {
		swapRB(f, bgr)
		m, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, bgr)
		if err != nil {
			vw.Close()
			return fmt.Errorf("video: %s: %w", path, err)
		}
		err = vw.Write(m)
		m.Close()
		if err != nil {
			vw.Close()
			return fmt.Errorf("video: %s: %w", path, err)
		}
	}
	if err := vw.Close(); err != nil {
		return fmt.Errorf("video: close %s: %w", path, err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		return fmt.Errorf("%w: %s was not written", ErrCodec, path)
	}
	return nil
}

// ReadMP4 decodes every frame of a video as RGB bytes.
func ReadMP4(path string) (frames [][]uint8, w, h int, err error) {
	if _, err := os.Stat(path); err != nil {
		return nil, 0, 0, fmt.Errorf("video: %w", err)
	}
	vc, err := gocv.VideoCaptureFile(path)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return nil, 0, 0, fmt.Errorf("%w: cannot open %s", ErrCodec, path)
	}
	defer vc.Close()
	m := gocv.NewMat()
	defer m.Close()
	for vc.Read(&m) && !m.Empty() {
		if m.Type() != gocv.MatTypeCV8UC3 {
			return nil, 0, 0, fmt.Errorf("%w: %s: frame type %v", ErrCodec, path, m.Type())
		}
		w, h = m.Cols(), m.Rows()
		b, err := m.DataPtrUint8()
		if err != nil || !m.IsContinuous() {
			return nil, 0, 0, fmt.Errorf("%w: %s: frame data not accessible", ErrCodec, path)
		}
		rgb := make([]byte, w*h*3)
		swapRB(b[:w*h*3], rgb)
		frames = append(frames, rgb)
	}
	if len(frames) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: %s has no frames", ErrCodec, path)
	}
	return frames, w, h, nil
}

// swapRB copies 3-channel pixels swapping the first and third channel
// (RGB <-> BGR).
func swapRB(src, dst []byte) {
	for i := 0; i+2 < len(src); i += 3 {
		dst[i], dst[i+1], dst[i+2] = src[i+2], src[i+1], src[i]
	}
}
