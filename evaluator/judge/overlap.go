package judge

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"strconv"

	"dreamrank/evaluator/judge/overlap"
)

// OverlapName is the registry name of the colour-overlap judge.
const OverlapName = "overlap"

// Options of the overlap judge.
const (
	// OptObject and OptTarget: the object's and the target's colours,
	// "#rrggbb" or "r,g,b" (required).
	OptObject = "object"
	OptTarget = "target"
	// OptTolerance: RGB distance (default overlap.DefaultTolerance).
	OptTolerance = "tolerance"
	// OptThreshold: success when coverage exceeds it (default 0.95).
	OptThreshold = "threshold"
	// OptReference: a PNG frame in which the target is fully visible, at
	// the episodes' frame size; without it each episode's own frames show
	// the target (overlap.TargetMask).
	OptReference = "reference"
)

// DefaultOverlapThreshold is the overlap judge's success coverage unless
// told otherwise: PushT's rule, which PushL shares.
const DefaultOverlapThreshold = 0.95

func init() {
	Register(OverlapName, func(_ context.Context, opts Options) (Judge, error) {
		return openOverlap(opts)
	})
}

// Overlap judges any scene where a single-coloured object is pushed onto a
// target region of another colour, from the frames alone (package overlap):
// per-step coverage is the share of the target region's pixels showing the
// object, and reward and success follow PushT's rule with Threshold. It
// reads no pose and knows no shape, so it carries no scene code.
//
// The target region is Reference when given, else read from each episode's
// own frames (the union of its target-coloured pixels, holes filled). A
// frame with no target region at all is unreadable and scores 0. Frames
// must be RGB.
type Overlap struct {
	Spec      overlap.Spec
	Threshold float64       // 0 means DefaultOverlapThreshold
	Reference *overlap.Mask // nil: from each episode's frames
}

func openOverlap(opts Options) (Overlap, error) {
	var o Overlap
	var object, target, reference string
	for k, v := range opts {
		var err error
		switch k {
		case OptObject:
			object = v
		case OptTarget:
			target = v
		case OptReference:
			reference = v
		case OptTolerance:
			o.Spec.Tolerance, err = strconv.ParseFloat(v, 64)
			if err == nil && !(o.Spec.Tolerance > 0) {
				err = fmt.Errorf("want a positive number")
			}
		case OptThreshold:
			o.Threshold, err = strconv.ParseFloat(v, 64)
			if err == nil && !(o.Threshold > 0 && o.Threshold < 1) {
				err = fmt.Errorf("want a number in (0, 1)")
			}
		default:
			err = fmt.Errorf("unknown option (known: %s, %s, %s, %s, %s)", OptObject, OptTarget, OptTolerance, OptThreshold, OptReference)
		}
		if err != nil {
			return Overlap{}, fmt.Errorf("%w: option %s=%q: %w", ErrBadInput, k, v, err)
		}
	}
	if object == "" || target == "" {
		return Overlap{}, fmt.Errorf("%w: the overlap judge needs options %s and %s", ErrBadInput, OptObject, OptTarget)
	}
	var err error
	if o.Spec.Object, err = overlap.ParseColour(object); err != nil {
		return Overlap{}, fmt.Errorf("%w: option %s: %w", ErrBadInput, OptObject, err)
	}
	if o.Spec.Target, err = overlap.ParseColour(target); err != nil {
		return Overlap{}, fmt.Errorf("%w: option %s: %w", ErrBadInput, OptTarget, err)
	}
	if reference != "" {
		m, err := readReference(reference, o.Spec)
		if err != nil {
			return Overlap{}, fmt.Errorf("%w: option %s: %w", ErrBadInput, OptReference, err)
		}
		o.Reference = &m
	}
	return o, nil
}

// readReference reads the target region from a PNG frame.
func readReference(path string, spec overlap.Spec) (overlap.Mask, error) {
	f, err := os.Open(path)
	if err != nil {
		return overlap.Mask{}, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return overlap.Mask{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return overlap.TargetMask(spec, rgbFrame(img))
}

func rgbFrame(img image.Image) overlap.Frame {
	b := img.Bounds()
	fr := overlap.Frame{W: b.Dx(), H: b.Dy(), Pix: make([]uint8, 0, b.Dx()*b.Dy()*3)}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			fr.Pix = append(fr.Pix, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return fr
}

// Judge implements Judge.
func (o Overlap) Judge(ctx context.Context, eps []Episode) ([]Verdict, error) {
	for i, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, fmt.Errorf("judge: episode %d: %w", i, err)
		}
		if e.Channels != 3 {
			return nil, fmt.Errorf("judge: episode %d: %w: overlap reads RGB frames, got %d channels", i, ErrBadInput, e.Channels)
		}
		if r := o.Reference; r != nil && (r.W != e.FrameW || r.H != e.FrameH) {
			return nil, fmt.Errorf("judge: episode %d: %w: %dx%d frames, reference %dx%d", i, ErrBadInput, e.FrameW, e.FrameH, r.W, r.H)
		}
	}
	out := make([]Verdict, len(eps))
	for i, e := range eps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("judge: %w", err)
		}
		v, err := o.judgeOne(e)
		if err != nil {
			return nil, fmt.Errorf("judge: episode %d: %w: %w", i, ErrBadInput, err)
		}
		out[i] = v
	}
	return out, nil
}

func (o Overlap) judgeOne(e Episode) (Verdict, error) {
	frames := make([]overlap.Frame, len(e.Frames))
	for t, f := range e.Frames {
		frames[t] = overlap.Frame{Pix: f, W: e.FrameW, H: e.FrameH}
	}
	var mask overlap.Mask
	if o.Reference != nil {
		mask = *o.Reference
	} else {
		var err error
		if mask, err = overlap.TargetMask(o.Spec, frames...); err != nil {
			return Verdict{}, err
		}
	}
	cov := make([]float64, len(frames))
	for t, f := range frames {
		c, err := overlap.Coverage(o.Spec, f, mask)
		if err != nil {
			return Verdict{}, fmt.Errorf("frame %d: %w", t, err)
		}
		cov[t] = c
	}
	th := o.Threshold
	if th == 0 {
		th = DefaultOverlapThreshold
	}
	v := Score(cov, th)
	if mask.Len() == 0 {
		v.Unreadable = len(frames)
	}
	return v, nil
}
