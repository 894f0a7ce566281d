package video

import (
	"fmt"
	"os"
	"strings"

	"gocv.io/x/gocv"
)

// AV1 ("av01") is what LeRobot encodes by default (libsvtav1). Debian 12's
// ffmpeg decodes it (libdav1d), but OpenCV's writer picks libaom, which
// encodes about 3 frames/s at 96x96: fine to read, too slow to write.
const AV1 = "av01"

// CodecName maps an OpenCV fourcc to the codec name ffprobe reports (and
// LeRobot's info.json records as video.codec): "avc1" -> "h264".
func CodecName(fourcc string) string {
	switch strings.ToLower(strings.TrimSpace(fourcc)) {
	case "avc1", "h264", "x264":
		return "h264"
	case "mp4v", "fmp4", "xvid":
		return "mpeg4"
	case "av01":
		return "av1"
	case "hev1", "hvc1":
		return "hevc"
	case "vp09":
		return "vp9"
	}
	return strings.TrimSpace(fourcc)
}

// StreamWriter writes RGB frames one at a time, so a long video never has
// to be held in memory.
type StreamWriter struct {
	vw     *gocv.VideoWriter
	path   string
	w, h   int
	bgr    []byte
	frames int
	fourcc string
}

// NewStreamWriter opens path for w x h RGB frames at fps, trying the
// fourccs in order (nil: H264 then MPEG4). Fourcc says which one opened.
func NewStreamWriter(path string, w, h int, fps float64, fourccs []string) (*StreamWriter, error) {
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 || !(fps > 0) {
		return nil, fmt.Errorf("%w: %dx%d at %v fps", ErrInvalid, w, h, fps)
	}
	if len(fourccs) == 0 {
		fourccs = []string{H264, MPEG4}
	}
	var lastErr error
	for _, cc := range fourccs {
		vw, err := gocv.VideoWriterFile(path, cc, fps, w, h, true)
		if err == nil && vw.IsOpened() {
			return &StreamWriter{vw: vw, path: path, w: w, h: h, bgr: make([]byte, w*h*3), fourcc: cc}, nil
		}
		if vw != nil {
			vw.Close()
		}
		lastErr = err
	}
	os.Remove(path)
	return nil, fmt.Errorf("%w: no mp4 writer for %s among %v (%v)", ErrCodec, path, fourccs, lastErr)
}

// Fourcc is the codec the writer opened with.
func (s *StreamWriter) Fourcc() string { return s.fourcc }

// Frames is how many frames were written so far.
func (s *StreamWriter) Frames() int { return s.frames }

// Write appends one RGB frame.
func (s *StreamWriter) Write(rgb []uint8) error {
	if len(rgb) != s.w*s.h*3 {
		return fmt.Errorf("%w: frame %d has %d bytes, want %d", ErrInvalid, s.frames, len(rgb), s.w*s.h*3)
	}
	swapRB(rgb, s.bgr)
	m, err := gocv.NewMatFromBytes(s.h, s.w, gocv.MatTypeCV8UC3, s.bgr)
	if err != nil {
		return fmt.Errorf("video: %s: %w", s.path, err)
	}
	defer m.Close()
	if err := s.vw.Write(m); err != nil {
		return fmt.Errorf("video: %s: %w", s.path, err)
	}
	s.frames++
	return nil
}

// Close finishes the file; a video with no frames is an error.
func (s *StreamWriter) Close() error {
	if s.vw == nil {
		return nil
	}
	err := s.vw.Close()
	s.vw = nil
	if err != nil {
		return fmt.Errorf("video: close %s: %w", s.path, err)
	}
	if st, err := os.Stat(s.path); err != nil || st.Size() == 0 || s.frames == 0 {
		return fmt.Errorf("%w: %s was not written", ErrCodec, s.path)
	}
	return nil
}

// StreamReader decodes a video one frame at a time, with each frame's
// presentation time.
type StreamReader struct {
	vc     *gocv.VideoCapture
	m      gocv.Mat
	path   string
	fourcc string
	fps    float64
	n      int
	last   float64 // time of the previous frame
}

// OpenStream opens a video for reading. A file OpenCV cannot open at all is
// ErrCodec; a codec it opens but cannot decode shows up as ErrCodec from
// Next on the first frame, naming the codec.
func OpenStream(path string) (*StreamReader, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("video: %w", err)
	}
	// FFmpeg only: the GStreamer backend would be tried too and print
	// assertion noise for files it cannot open.
	vc, err := gocv.VideoCaptureFileWithAPI(path, gocv.VideoCaptureFFmpeg)
	if err != nil || !vc.IsOpened() {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("%w: cannot open %s (not a video, or no demuxer for it)", ErrCodec, path)
	}
	return &StreamReader{vc: vc, m: gocv.NewMat(), path: path,
		fourcc: strings.TrimRight(vc.CodecString(), "\x00 "), fps: vc.Get(gocv.VideoCaptureFPS)}, nil
}

// Fourcc is the container's codec tag ("av01", "avc1", ...).
func (r *StreamReader) Fourcc() string { return r.fourcc }

// FPS is the stream's nominal frame rate (0 when unknown).
func (r *StreamReader) FPS() float64 { return r.fps }

// Next decodes the next frame as RGB bytes with its presentation time in
// seconds from the stream's start. ok is false at the end of the stream.
func (r *StreamReader) Next() (rgb []uint8, w, h int, t float64, ok bool, err error) {
	if !r.vc.Read(&r.m) || r.m.Empty() {
		if r.n == 0 {
			return nil, 0, 0, 0, false, fmt.Errorf("%w: %s: no frame could be decoded; is there a %s (%q) decoder in this OpenCV/ffmpeg build?",
				ErrCodec, r.path, CodecName(r.fourcc), r.fourcc)
		}
		return nil, 0, 0, 0, false, nil
	}
	if r.m.Type() != gocv.MatTypeCV8UC3 {
		return nil, 0, 0, 0, false, fmt.Errorf("%w: %s: frame type %v", ErrCodec, r.path, r.m.Type())
	}
	w, h = r.m.Cols(), r.m.Rows()
	b, err := r.m.DataPtrUint8()
	if err != nil || !r.m.IsContinuous() {
		return nil, 0, 0, 0, false, fmt.Errorf("%w: %s: frame data not accessible", ErrCodec, r.path)
	}
	rgb = make([]byte, w*h*3)
	swapRB(b[:w*h*3], rgb)
	t = r.vc.Get(gocv.VideoCapturePosMsec) / 1000
	// Frames drained from the decoder at the end of a stream with
	// B-frames come back without a time (0); they follow the previous
	// frame at the nominal rate.
	if r.n > 0 && t <= r.last && r.fps > 0 {
		t = r.last + 1/r.fps
	}
	r.last = t
	r.n++
	return rgb, w, h, t, true, nil
}

// Close releases the decoder.
func (r *StreamReader) Close() {
	if r.vc != nil {
		r.m.Close()
		r.vc.Close()
		r.vc = nil
	}
}
