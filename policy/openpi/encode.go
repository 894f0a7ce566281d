package openpi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"dreamrank/foundation/ndarray"
	"dreamrank/policy"
)

// encoder turns policy observations into openpi observations for one
// server: the layout, the local frame shape when known (else each frame's
// is read from its byte count) and the wire image size when the layout
// leaves it to the server (its metadata frame size).
type encoder struct {
	layout Layout
	local  shape // zero: square RGB, read per frame
	wireHW [2]int
}

// frameShape is the shape of the observation's frames.
func (e encoder) frameShape(n int) (shape, error) {
	if e.local.len() > 0 {
		if n != e.local.len() {
			return shape{}, fmt.Errorf("%w: image has %d bytes, want %d (%dx%dx%d)", policy.ErrBadInput, n, e.local.len(), e.local.H, e.local.W, e.local.C)
		}
		return e.local, nil
	}
	s, ok := squareRGB(n)
	if !ok {
		return shape{}, fmt.Errorf("%w: cannot tell the size of a %d-byte frame (not a square RGB frame): set the frame size (option frame_size=HxW or ClientOptions.Spec)", policy.ErrBadInput, n)
	}
	return s, nil
}

// wire is the image shape sent for local frames of shape s.
func (e encoder) wire(s shape) shape {
	switch {
	case e.layout.Height > 0:
		return shape{e.layout.Height, e.layout.Width, s.C}
	case e.wireHW[0] > 0:
		return shape{e.wireHW[0], e.wireHW[1], s.C}
	}
	return s
}

// encode builds the openpi observation for one policy observation and its
// optional context.
func (e encoder) encode(o policy.Observation, c *policy.Context) (map[string]any, error) {
	l := e.layout
	local, err := e.frameShape(len(o.Image))
	if err != nil {
		return nil, err
	}
	wire := e.wire(local)
	m := map[string]any{}
	setPath(m, l.Image, l.toWire([][]uint8{o.Image}, local, wire, false))
	for _, name := range slices.Sorted(maps.Keys(l.Cameras)) {
		f, ok := o.Frames[name]
		switch {
		case ok && len(f) != local.len():
			return nil, fmt.Errorf("%w: frame %q has %d bytes, the image %d", policy.ErrBadInput, name, len(f), local.len())
		case ok:
			setPath(m, l.Cameras[name], l.toWire([][]uint8{f}, local, wire, false))
		case l.FillCameras:
			setPath(m, l.Cameras[name], l.blank(wire))
		}
	}
	if err := l.encodeState(m, o.Proprio); err != nil {
		return nil, err
	}
	if c == nil {
		c = &policy.Context{}
	}
	m[l.Prompt] = c.Task
	return m, e.encodeSteering(m, *c, local, wire)
}

// encodeState splits the proprioception over the state keys.
func (l Layout) encodeState(m map[string]any, p []float32) error {
	fixed := 0
	for _, s := range l.State {
		fixed += s.Size
	}
	open := l.State[len(l.State)-1].Size == 0
	if len(p) < fixed || (!open && len(p) != fixed) {
		return fmt.Errorf("%w: proprioception has %d values, layout %s's state keys take %s", policy.ErrBadInput, len(p), l.Name, l.stateSizes())
	}
	at := 0
	for _, s := range l.State {
		n := s.Size
		if n == 0 {
			n = len(p) - at
		}
		setPath(m, s.Key, ndarray.NewFloat32(p[at:at+n], n))
		at += n
	}
	return nil
}

// stateSizes renders the state keys with their sizes: "a 7 + b 1".
func (l Layout) stateSizes() string {
	parts := make([]string, len(l.State))
	for i, s := range l.State {
		n := "the rest"
		if s.Size > 0 {
			n = fmt.Sprint(s.Size)
		}
		parts[i] = s.Key + " " + n
	}
	return strings.Join(parts, " + ")
}

// encodeSteering adds dreamrank's steering keys the layout sends.
func (e encoder) encodeSteering(m map[string]any, c policy.Context, local, wire shape) error {
	l := e.layout
	if c.Subtask != "" && on(l.Subtask) {
		setPath(m, l.Subtask, c.Subtask)
	}
	if c.Metadata.Speed != "" && on(l.Speed) {
		setPath(m, l.Speed, c.Metadata.Speed)
	}
	if c.Metadata.Quality != 0 && on(l.Quality) {
		setPath(m, l.Quality, c.Metadata.Quality)
	}
	if c.Metadata.Mistake != nil && on(l.Mistake) {
		setPath(m, l.Mistake, *c.Metadata.Mistake)
	}
	if len(c.SubgoalImages) > 0 && on(l.Subgoals) {
		for i, g := range c.SubgoalImages {
			if len(g) != local.len() {
				return fmt.Errorf("%w: subgoal image %d has %d bytes, the image %d", policy.ErrBadInput, i, len(g), local.len())
			}
		}
		setPath(m, l.Subgoals, l.toWire(c.SubgoalImages, local, wire, true))
	}
	return nil
}
