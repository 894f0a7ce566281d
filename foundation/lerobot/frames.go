package lerobot

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/jpeg" // datasets may store image features as JPEG
	_ "image/png"  // the datasets library's default for Image features
	"math"
	"path/filepath"

	"dreamrank/foundation/video"
)

// videoCursor walks one video file forward, handing out the frame nearest
// each requested time. LeRobot finds frames by time (from_timestamp plus
// the frame's timestamp), so this does too; requests come in increasing
// time within a file, so one sequential decode serves a whole v3.0 file of
// many episodes.
type videoCursor struct {
	path  string // absolute
	codec string // what info.json declares
	r     *video.StreamReader
	cur   []uint8
	w, h  int
	t     float64
	done  bool
}

func openCursor(path, declared string) (*videoCursor, error) {
	c := &videoCursor{path: path, codec: declared}
	return c, c.reopen()
}

func (c *videoCursor) reopen() error {
	c.close()
	r, err := video.OpenStream(c.path)
	if err != nil {
		if errors.Is(err, video.ErrCodec) {
			return fmt.Errorf("%w: %s (info.json video.codec %q): %w", ErrCodec, c.path, c.codec, err)
		}
		return fmt.Errorf("%w: %s: %w", ErrMissing, c.path, err)
	}
	c.r, c.cur, c.done, c.t = r, nil, false, math.Inf(-1)
	return c.advance()
}

func (c *videoCursor) advance() error {
	rgb, w, h, t, ok, err := c.r.Next()
	if err != nil {
		if errors.Is(err, video.ErrCodec) {
			return fmt.Errorf("%w: %s (info.json video.codec %q): %w", ErrCodec, c.path, c.codec, err)
		}
		return err
	}
	if !ok {
		c.done = true
		return nil
	}
	c.cur, c.w, c.h, c.t = rgb, w, h, t
	return nil
}

// frameAt returns the frame whose time is within tol of t.
func (c *videoCursor) frameAt(t, tol float64) ([]uint8, int, int, error) {
	if c.cur != nil && t < c.t-tol {
		if err := c.reopen(); err != nil { // asked to go back: start over
			return nil, 0, 0, err
		}
	}
	for !c.done && c.t < t-tol {
		if err := c.advance(); err != nil {
			return nil, 0, 0, err
		}
	}
	if c.done || math.Abs(c.t-t) > tol {
		last := "it has no frames"
		if c.cur != nil {
			last = fmt.Sprintf("the nearest frame is at %.4f s", c.t)
		}
		return nil, 0, 0, fmt.Errorf("%w: %s: no frame at %.4f s (%s)", ErrCorrupt, c.path, t, last)
	}
	// The caller keeps the frame: hand it over and decode a fresh one.
	f, w, h := c.cur, c.w, c.h
	c.cur = nil
	if err := c.advance(); err != nil {
		return nil, 0, 0, err
	}
	return f, w, h, nil
}

func (c *videoCursor) close() {
	if c.r != nil {
		c.r.Close()
		c.r = nil
	}
}

// cursors keeps one open cursor per video file, closing the others, so a
// v3.0 import decodes each file once.
type cursors struct {
	root  string
	open  map[string]*videoCursor
	codec map[string]string
}

func (cs *cursors) get(key string, ref videoRef) (*videoCursor, error) {
	if c, ok := cs.open[ref.file]; ok {
		return c, nil
	}
	for f, c := range cs.open { // one file at a time per camera is enough
		c.close()
		delete(cs.open, f)
	}
	c, err := openCursor(filepath.Join(cs.root, filepath.FromSlash(ref.file)), cs.codec[key])
	if err != nil {
		return nil, err
	}
	cs.open[ref.file] = c
	return c, nil
}

func (cs *cursors) close() {
	for _, c := range cs.open {
		c.close()
	}
}

// decodeImage turns PNG or JPEG bytes into RGB bytes.
func decodeImage(b []byte) ([]uint8, int, int, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, 0, 0, err
	}
	r := img.Bounds()
	rgba := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(rgba, rgba.Bounds(), img, r.Min, draw.Src)
	out := make([]uint8, r.Dx()*r.Dy()*3)
	for i, j := 0, 0; i < len(rgba.Pix); i, j = i+4, j+3 {
		out[j], out[j+1], out[j+2] = rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2]
	}
	return out, r.Dx(), r.Dy(), nil
}
