package fidelity

import (
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"
)

// PSNRCap is the PSNR, in dB, reported for identical frames.
const PSNRCap = 100.0

// SSIM parameters of Wang et al. (2004), the usual defaults.
const (
	ssimWindow = 11
	ssimSigma  = 1.5
	ssimK1     = 0.01
	ssimK2     = 0.03
	ssimPeak   = 255.0
)

// wrap makes an 8-bit Mat of an h x w frame with c channels.
func wrap(frame []uint8, w, h, c int) (gocv.Mat, error) {
	if len(frame) != w*h*c || c < 1 || c > 4 {
		return gocv.Mat{}, fmt.Errorf("%w: frame of %d bytes for %dx%dx%d", ErrBadFrame, len(frame), w, h, c)
	}
	m, err := gocv.NewMatFromBytes(h, w, matType(gocv.MatTypeCV8U, c), frame)
	if err != nil {
		return gocv.Mat{}, fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return m, nil
}

// wrapPair wraps two frames of one size; on error nothing stays open.
func wrapPair(a, b []uint8, w, h, c int) (gocv.Mat, gocv.Mat, error) {
	ma, err := wrap(a, w, h, c)
	if err != nil {
		return gocv.Mat{}, gocv.Mat{}, err
	}
	mb, err := wrap(b, w, h, c)
	if err != nil {
		ma.Close()
		return gocv.Mat{}, gocv.Mat{}, err
	}
	return ma, mb, nil
}

// matType is OpenCV's CV_MAKETYPE(depth, channels).
func matType(depth gocv.MatType, c int) gocv.MatType { return depth + gocv.MatType((c-1)*8) }

// PSNR is the peak signal-to-noise ratio of b against a in dB (peak 255,
// all channel values), capped at PSNRCap.
func PSNR(a, b []uint8, w, h, c int) (float64, error) {
	ma, mb, err := wrapPair(a, b, w, h, c)
	if err != nil {
		return 0, err
	}
	defer ma.Close()
	defer mb.Close()
	l2 := gocv.NormWithMats(ma, mb, gocv.NormL2)
	mse := l2 * l2 / float64(w*h*c)
	if mse == 0 {
		return PSNRCap, nil
	}
	return math.Min(PSNRCap, 10*math.Log10(ssimPeak*ssimPeak/mse)), nil
}

// mats closes every Mat it handed out.
type mats []*gocv.Mat

func (ms *mats) new() *gocv.Mat {
	m := gocv.NewMat()
	*ms = append(*ms, &m)
	return &m
}

func (ms mats) close() {
	for _, m := range ms {
		m.Close()
	}
}

// SSIM is the structural similarity of b against a: the Gaussian-window
// SSIM map per channel, averaged over channels and over the frame without a
// border of half a window (5 pixels; the whole frame when it is smaller
// than a window).
func SSIM(a, b []uint8, w, h, c int) (float64, error) {
	ma, mb, err := wrapPair(a, b, w, h, c)
	if err != nil {
		return 0, err
	}
	defer ma.Close()
	defer mb.Close()
	var ms mats
	defer ms.close()
	ft := matType(gocv.MatTypeCV32F, c)
	x, y := ms.new(), ms.new()
	ma.ConvertTo(x, ft)
	mb.ConvertTo(y, ft)
	blur := func(src gocv.Mat) *gocv.Mat {
		d := ms.new()
		gocv.GaussianBlur(src, d, image.Pt(ssimWindow, ssimWindow), ssimSigma, ssimSigma, gocv.BorderReflect101)
		return d
	}
	mul := func(p, q gocv.Mat) *gocv.Mat {
		d := ms.new()
		gocv.Multiply(p, q, d)
		return d
	}
	// lin returns alpha*p + beta*q + gamma.
	lin := func(p gocv.Mat, alpha float64, q gocv.Mat, beta, gamma float64) *gocv.Mat {
		d := ms.new()
		gocv.AddWeighted(p, alpha, q, beta, gamma, d)
		return d
	}
	c1 := (ssimK1 * ssimPeak) * (ssimK1 * ssimPeak)
	c2 := (ssimK2 * ssimPeak) * (ssimK2 * ssimPeak)
	mx, my := blur(*x), blur(*y)
	mxx, myy, mxy := mul(*mx, *mx), mul(*my, *my), mul(*mx, *my)
	sxx := lin(*blur(*mul(*x, *x)), 1, *mxx, -1, 0)
	syy := lin(*blur(*mul(*y, *y)), 1, *myy, -1, 0)
	sxy := lin(*blur(*mul(*x, *y)), 1, *mxy, -1, 0)
	num := mul(*lin(*mxy, 2, *mxy, 0, c1), *lin(*sxy, 2, *sxy, 0, c2))
	den := mul(*lin(*mxx, 1, *myy, 1, c1), *lin(*sxx, 1, *syy, 1, c2))
	ssim := ms.new()
	gocv.Divide(*num, *den, ssim)

	border := (ssimWindow - 1) / 2
	roi := image.Rect(0, 0, w, h)
	if w > 2*border && h > 2*border {
		roi = roi.Inset(border)
	}
	region := ssim.Region(roi)
	defer region.Close()
	mean := region.Mean()
	vals := [4]float64{mean.Val1, mean.Val2, mean.Val3, mean.Val4}
	var sum float64
	for i := 0; i < c; i++ {
		sum += vals[i]
	}
	return sum / float64(c), nil
}
