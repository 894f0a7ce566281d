package video

import (
	"fmt"
	"image"
	"image/png"
	"os"
)

// WritePNG writes one RGB frame (w*h*3 bytes) to path as a lossless PNG,
// for stills a program reads back exactly (a judge's reference frame).
func WritePNG(path string, frame []uint8, w, h int) error {
	if w <= 0 || h <= 0 || len(frame) != w*h*3 {
		return fmt.Errorf("%w: %d bytes for a %dx%d RGB frame", ErrInvalid, len(frame), w, h)
	}
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(img.Pix[4*i:], frame[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("video: %w", err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("video: encode %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("video: %w", err)
	}
	return nil
}
