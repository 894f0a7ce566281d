package openpi

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"dreamrank/foundation/ndarray"
	"dreamrank/policy"
)

// decoder reads openpi observations for a served policy: the layout says
// what arrives, the spec what the policy takes.
type decoder struct {
	layout Layout
	spec   policy.Spec
}

// want is the image shape expected on the wire (zero where unknown).
func (d decoder) want() shape {
	s := shape{d.spec.FrameH, d.spec.FrameW, d.spec.Channels}
	if d.layout.Height > 0 {
		s.H, s.W = d.layout.Height, d.layout.Width
	}
	return s
}

// frames reads one image entry (or a stack, batch) and converts it to the
// policy's frame size when the policy says one.
func (d decoder) frames(key string, v any, batch bool) ([][]uint8, error) {
	fs, s, err := d.layout.fromWire(key, v, d.want(), batch)
	if err != nil {
		return nil, err
	}
	if h, w := d.spec.FrameH, d.spec.FrameW; h > 0 && w > 0 {
		for i := range fs {
			fs[i] = resize(fs[i], s, h, w, d.layout.Stretch)
		}
	}
	return fs, nil
}

// decode reads an openpi observation into a policy observation and
// context.
func (d decoder) decode(m map[string]any) (policy.Observation, policy.Context, error) {
	var o policy.Observation
	var c policy.Context
	l := d.layout
	v, ok := getPath(m, l.Image)
	if !ok {
		return o, c, fmt.Errorf("%w: observation has no %s (layout %s; it has %s)", policy.ErrBadInput, l.Image, l, keysOf(m))
	}
	fs, err := d.frames(l.Image, v, false)
	if err != nil {
		return o, c, err
	}
	o.Image = fs[0]
	for name, key := range l.Cameras {
		v, ok := getPath(m, key)
		if !ok {
			continue
		}
		if fs, err = d.frames(key, v, false); err != nil {
			return o, c, err
		}
		if o.Frames == nil {
			o.Frames = map[string][]uint8{}
		}
		o.Frames[name] = fs[0]
	}
	if o.Proprio, err = l.decodeState(m); err != nil {
		return o, c, err
	}
	c, err = d.decodeSteering(m)
	return o, c, err
}

// decodeState concatenates the state keys; none present is no state.
func (l Layout) decodeState(m map[string]any) ([]float32, error) {
	var out []float32
	found := 0
	for _, s := range l.State {
		v, ok := getPath(m, s.Key)
		if !ok {
			continue
		}
		found++
		vals, err := numbers(s.Key, v)
		if err != nil {
			return nil, err
		}
		if s.Size > 0 && len(vals) != s.Size {
			return nil, fmt.Errorf("%w: %s has %d values, want %d (layout %s)", policy.ErrBadInput, s.Key, len(vals), s.Size, l)
		}
		out = append(out, vals...)
	}
	if found != 0 && found != len(l.State) {
		return nil, fmt.Errorf("%w: observation has %d of the state keys %s (layout %s)", policy.ErrBadInput, found, l.stateSizes(), l)
	}
	return out, nil
}

// numbers reads a numeric vector: an ndarray of rank 0 or 1, or a list.
func numbers(key string, v any) ([]float32, error) {
	switch x := v.(type) {
	case *ndarray.Array:
		if len(x.Shape) > 1 {
			return nil, fmt.Errorf("%w: %s has shape %v, want a vector", policy.ErrBadInput, key, x.Shape)
		}
		return x.Float32s()
	case []any:
		out := make([]float32, len(x))
		for i, y := range x {
			switch n := y.(type) {
			case float64:
				out[i] = float32(n)
			case int64:
				out[i] = float32(n)
			case uint64:
				out[i] = float32(n)
			default:
				return nil, fmt.Errorf("%w: %s[%d] is %T, want a number", policy.ErrBadInput, key, i, y)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %s is %T, want a numeric ndarray", policy.ErrBadInput, key, v)
}

// decodeSteering reads the prompt and dreamrank's steering keys.
func (d decoder) decodeSteering(m map[string]any) (policy.Context, error) {
	var c policy.Context
	l := d.layout
	var err error
	if c.Task, err = str(m, l.Prompt); err != nil {
		return c, err
	}
	if on(l.Subtask) {
		if c.Subtask, err = str(m, l.Subtask); err != nil {
			return c, err
		}
	}
	if on(l.Speed) {
		if c.Metadata.Speed, err = str(m, l.Speed); err != nil {
			return c, err
		}
	}
	if v, ok := getPath(m, l.Quality); ok && on(l.Quality) && v != nil {
		q, ok := ndarray.Int(v)
		if f, isF := v.(float64); isF && f == math.Trunc(f) && f >= 0 && f <= 5 {
			q, ok = int64(f), true
		}
		if !ok || q < 0 || q > 5 {
			return c, fmt.Errorf("%w: %s is %v, want an integer 0..5", policy.ErrBadInput, l.Quality, v)
		}
		c.Metadata.Quality = int(q)
	}
	if v, ok := getPath(m, l.Mistake); ok && on(l.Mistake) && v != nil {
		b, ok := v.(bool)
		if !ok {
			return c, fmt.Errorf("%w: %s is %T, want a bool", policy.ErrBadInput, l.Mistake, v)
		}
		c.Metadata.Mistake = &b
	}
	if v, ok := getPath(m, l.Subgoals); ok && on(l.Subgoals) && v != nil {
		if c.SubgoalImages, err = d.frames(l.Subgoals, v, true); err != nil {
			return c, err
		}
		if len(c.SubgoalImages) == 0 {
			c.SubgoalImages = nil
		}
	}
	return c, nil
}

// str reads an optional string entry.
func str(m map[string]any, key string) (string, error) {
	v, _ := getPath(m, key)
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return "", fmt.Errorf("%w: %s is %T, want a string", policy.ErrBadInput, key, v)
}

// keysOf lists a message's top-level keys for errors.
func keysOf(m map[string]any) string {
	if len(m) == 0 {
		return "no keys"
	}
	ks := slices.Sorted(maps.Keys(m))
	if len(ks) > 20 {
		ks = append(ks[:20], "...")
	}
	return strings.Join(ks, ", ")
}
