package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"net/http"
	"slices"
)

// Preview is a sample rollout: the imagined episode beside the real one on
// the same seed. Give either frames (Imagined, and Real when a real episode
// was paired; encoded here as an animated GIF) or already encoded bytes
// (Media: an animated GIF, or a PNG still).
type Preview struct {
	Arm     string `json:"arm"`
	Seed    int64  `json:"seed"`
	Caption string `json:"caption,omitempty"`
	// ImaginedSuccess is the judge's call on the imagined episode;
	// RealSuccess the real outcome (nil when no real episode was paired).
	ImaginedSuccess bool  `json:"imagined_success"`
	RealSuccess     *bool `json:"real_success,omitempty"`
	// Imagined and Real frames, in order (Real may be nil or shorter).
	Imagined []image.Image `json:"-"`
	Real     []image.Image `json:"-"`
	// Media is an encoded GIF or PNG, used when there are no frames.
	Media []byte `json:"media,omitempty"`
	// DelayMS between frames; default 100.
	DelayMS int `json:"delay_ms,omitempty"`
}

// PreviewInfo is a preview as the report carries it.
type PreviewInfo struct {
	Arm             string `json:"arm"`
	Seed            int64  `json:"seed"`
	Caption         string `json:"caption,omitempty"`
	ImaginedSuccess bool   `json:"imagined_success"`
	RealSuccess     *bool  `json:"real_success,omitempty"`
	// Failure: the real episode failed (or, without one, the imagined).
	Failure bool `json:"failure"`
	// File is the preview's name beside the Markdown report.
	File string `json:"file"`
	// MediaType is image/gif or image/png; Media the bytes (base64 in
	// JSON).
	MediaType string `json:"media_type"`
	Media     []byte `json:"media"`
}

// MaxPreviewFrames caps the frames of a built preview GIF (longer
// rollouts are subsampled evenly).
const MaxPreviewFrames = 80

func buildPreviews(in []Preview, board []Row) ([]PreviewInfo, error) {
	pos := map[string]int{}
	for i, r := range board {
		pos[r.Arm] = i
	}
	out := make([]PreviewInfo, 0, len(in))
	for _, p := range in {
		info := PreviewInfo{Arm: p.Arm, Seed: p.Seed, Caption: p.Caption, ImaginedSuccess: p.ImaginedSuccess, RealSuccess: p.RealSuccess}
		info.Failure = !p.ImaginedSuccess
		if p.RealSuccess != nil {
			info.Failure = !*p.RealSuccess
		}
		switch {
		case len(p.Imagined) > 0:
			b, err := SideBySideGIF(p.Imagined, p.Real, p.DelayMS)
			if err != nil {
				return nil, fmt.Errorf("report: preview %s seed %d: %w", p.Arm, p.Seed, err)
			}
			info.Media, info.MediaType = b, "image/gif"
		case len(p.Media) > 0:
			info.Media, info.MediaType = p.Media, http.DetectContentType(p.Media)
			if info.MediaType != "image/gif" && info.MediaType != "image/png" {
				return nil, fmt.Errorf("%w: preview %s seed %d is %s, want a GIF or PNG", ErrBadInput, p.Arm, p.Seed, info.MediaType)
			}
		default:
			return nil, fmt.Errorf("%w: preview %s seed %d has neither frames nor media", ErrBadInput, p.Arm, p.Seed)
		}
		out = append(out, info)
	}
	// Failures first, then leaderboard order (unknown arms last), then seed.
	rank := func(arm string) int {
		if i, ok := pos[arm]; ok {
			return i
		}
		return len(board)
	}
	slices.SortStableFunc(out, func(a, b PreviewInfo) int {
		if a.Failure != b.Failure {
			if a.Failure {
				return -1
			}
			return 1
		}
		if d := rank(a.Arm) - rank(b.Arm); d != 0 {
			return d
		}
		switch {
		case a.Seed < b.Seed:
			return -1
		case a.Seed > b.Seed:
			return 1
		}
		return 0
	})
	for i := range out {
		ext := "gif"
		if out[i].MediaType == "image/png" {
			ext = "png"
		}
		out[i].File = fmt.Sprintf("previews/%02d-%s-%d.%s", i+1, fileSafe(out[i].Arm), out[i].Seed, ext)
	}
	return out, nil
}

// fileSafe keeps letters, digits, '-', '_' and '.'.
func fileSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}

// SideBySideGIF encodes an animated GIF of imagined frames (left) beside
// real ones (right, when given; the last real frame holds when the real
// episode is shorter, and the other way round), at most MaxPreviewFrames
// frames, delayMS apart (default 100), looping.
func SideBySideGIF(imagined, real []image.Image, delayMS int) ([]byte, error) {
	n := max(len(imagined), len(real))
	if n == 0 {
		return nil, fmt.Errorf("%w: no frames", ErrBadInput)
	}
	if delayMS <= 0 {
		delayMS = 100
	}
	frameAt := func(fs []image.Image, i int) image.Image {
		if len(fs) == 0 {
			return nil
		}
		return fs[min(i, len(fs)-1)]
	}
	size := func(fs []image.Image) image.Point {
		var p image.Point
		for _, f := range fs {
			p.X, p.Y = max(p.X, f.Bounds().Dx()), max(p.Y, f.Bounds().Dy())
		}
		return p
	}
	left, right := size(imagined), size(real)
	const gap = 4
	w, h := left.X, max(left.Y, right.Y)
	if len(real) > 0 {
		w += gap + right.X
	}
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("%w: empty frames", ErrBadInput)
	}
	frames := min(n, MaxPreviewFrames)
	anim := &gif.GIF{}
	for k := range frames {
		i := k * n / frames
		canvas := image.NewRGBA(image.Rect(0, 0, w, h))
		draw.Draw(canvas, canvas.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		if f := frameAt(imagined, i); f != nil {
			draw.Draw(canvas, image.Rect(0, 0, left.X, left.Y), f, f.Bounds().Min, draw.Src)
		}
		if f := frameAt(real, i); f != nil {
			draw.Draw(canvas, image.Rect(left.X+gap, 0, w, right.Y), f, f.Bounds().Min, draw.Src)
		}
		pal := image.NewPaletted(canvas.Bounds(), palette.Plan9)
		draw.Draw(pal, pal.Bounds(), canvas, image.Point{}, draw.Src)
		anim.Image = append(anim.Image, pal)
		anim.Delay = append(anim.Delay, delayMS/10)
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, anim); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// RGBFrames turns packed 8-bit RGB frames (a policy's or world model's
// camera frames) into images.
func RGBFrames(frames [][]uint8, w, h int) []image.Image {
	out := make([]image.Image, 0, len(frames))
	for _, f := range frames {
		im := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := 0; i < w*h && 3*i+2 < len(f); i++ {
			im.Pix[4*i], im.Pix[4*i+1], im.Pix[4*i+2], im.Pix[4*i+3] = f[3*i], f[3*i+1], f[3*i+2], 255
		}
		out = append(out, im)
	}
	return out
}
