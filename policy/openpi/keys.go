package openpi

import (
	"dreamrank/foundation/ndarray"
	"fmt"
	"maps"
	"math"

	"dreamrank/policy"
)

// Keys name the entries of an openpi observation and response. The zero
// value of a field means its default (DefaultKeys); "-" disables an optional
// steering field.
type Keys struct {
	// Image is the main camera, uint8 [H,W,C].
	Image string
	// Frames maps further camera names (policy.Observation.Frames) to keys,
	// each uint8 [H,W,C]. Unlisted cameras are not sent.
	Frames map[string]string
	// Proprio is the proprioception, float [P] (any numeric dtype is read).
	Proprio string
	// Prompt is the task text (policy.Context.Task), a string.
	Prompt string
	// Subtask is the subtask text, a string.
	Subtask string
	// Speed is the metadata speed label, a string.
	Speed string
	// Quality is the metadata quality, an integer 1..5.
	Quality string
	// Mistake is the metadata mistake flag, a bool.
	Mistake string
	// Subgoals are the subgoal images, uint8 [N,H,W,C] with N <= 3.
	Subgoals string
	// Actions is the response's action chunk, float [H,D].
	Actions string
}

// DefaultKeys are PushT/LIBERO-like keys plus dreamrank's steering keys
// (see PROTOCOL.md).
func DefaultKeys() Keys {
	return Keys{
		Image:    "observation/image",
		Proprio:  "observation/state",
		Prompt:   "prompt",
		Subtask:  "subtask",
		Speed:    "metadata/speed",
		Quality:  "metadata/quality",
		Mistake:  "metadata/mistake",
		Subgoals: "observation/subgoal_images",
		Actions:  "actions",
	}
}

func (k Keys) withDefaults() Keys {
	d := DefaultKeys()
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&k.Image, d.Image}, {&k.Proprio, d.Proprio}, {&k.Prompt, d.Prompt},
		{&k.Subtask, d.Subtask}, {&k.Speed, d.Speed}, {&k.Quality, d.Quality},
		{&k.Mistake, d.Mistake}, {&k.Subgoals, d.Subgoals}, {&k.Actions, d.Actions},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	k.Frames = maps.Clone(k.Frames)
	return k
}

func on(key string) bool { return key != "" && key != "-" }

// encodeObs builds the openpi observation for one policy observation and its
// optional context. Images need the spec's frame size for their shape.
func encodeObs(k Keys, spec policy.Spec, o policy.Observation, c *policy.Context) (map[string]any, error) {
	fl := spec.FrameLen()
	if fl == 0 {
		return nil, fmt.Errorf("%w: frame size unknown (the server's metadata does not give it; set ClientOptions.Spec)", policy.ErrBadInput)
	}
	shape := []int{spec.FrameH, spec.FrameW, spec.Channels}
	m := map[string]any{}
	img := func(key string, b []uint8) error {
		if len(b) != fl {
			return fmt.Errorf("%w: %s has %d bytes, want %d", policy.ErrBadInput, key, len(b), fl)
		}
		m[key] = ndarray.NewUint8(b, shape...)
		return nil
	}
	if err := img(k.Image, o.Image); err != nil {
		return nil, err
	}
	for name, key := range k.Frames {
		if f, ok := o.Frames[name]; ok {
			if err := img(key, f); err != nil {
				return nil, err
			}
		}
	}
	m[k.Proprio] = ndarray.NewFloat32(o.Proprio, len(o.Proprio))
	if c == nil {
		return m, nil
	}
	if c.Task != "" {
		m[k.Prompt] = c.Task
	}
	if c.Subtask != "" && on(k.Subtask) {
		m[k.Subtask] = c.Subtask
	}
	if c.Metadata.Speed != "" && on(k.Speed) {
		m[k.Speed] = c.Metadata.Speed
	}
	if c.Metadata.Quality != 0 && on(k.Quality) {
		m[k.Quality] = c.Metadata.Quality
	}
	if c.Metadata.Mistake != nil && on(k.Mistake) {
		m[k.Mistake] = *c.Metadata.Mistake
	}
	if len(c.SubgoalImages) > 0 && on(k.Subgoals) {
		data := make([]uint8, 0, fl*len(c.SubgoalImages))
		for i, g := range c.SubgoalImages {
			if len(g) != fl {
				return nil, fmt.Errorf("%w: subgoal image %d has %d bytes, want %d", policy.ErrBadInput, i, len(g), fl)
			}
			data = append(data, g...)
		}
		m[k.Subgoals] = &ndarray.Array{DType: "|u1", Shape: []int{len(c.SubgoalImages), spec.FrameH, spec.FrameW, spec.Channels}, Data: data}
	}
	return m, nil
}

// decodeObs reads an openpi observation into a policy observation and context.
func decodeObs(k Keys, m map[string]any) (policy.Observation, policy.Context, error) {
	var o policy.Observation
	var c policy.Context
	bad := func(format string, args ...any) (policy.Observation, policy.Context, error) {
		return o, c, fmt.Errorf("%w: %s", policy.ErrBadInput, fmt.Sprintf(format, args...))
	}
	image := func(key string) ([]uint8, error) {
		a, ok := m[key].(*ndarray.Array)
		if !ok {
			return nil, fmt.Errorf("%w: %s is %T, want a uint8 ndarray [H,W,C]", policy.ErrBadInput, key, m[key])
		}
		if len(a.Shape) != 3 || a.DType != "|u1" {
			return nil, fmt.Errorf("%w: %s is %s %v, want |u1 [H,W,C]", policy.ErrBadInput, key, a.DType, a.Shape)
		}
		return a.Data, nil
	}
	var err error
	if o.Image, err = image(k.Image); err != nil {
		return o, c, err
	}
	for name, key := range k.Frames {
		if _, ok := m[key]; !ok {
			continue
		}
		f, err := image(key)
		if err != nil {
			return o, c, err
		}
		if o.Frames == nil {
			o.Frames = map[string][]uint8{}
		}
		o.Frames[name] = f
	}
	if v, ok := m[k.Proprio]; ok {
		a, ok := v.(*ndarray.Array)
		if !ok {
			return bad("%s is %T, want a numeric ndarray", k.Proprio, v)
		}
		if o.Proprio, err = a.Float32s(); err != nil {
			return o, c, err
		}
	}
	str := func(key string) (string, error) {
		switch v := m[key].(type) {
		case nil:
			return "", nil
		case string:
			return v, nil
		case []byte:
			return string(v), nil
		default:
			return "", fmt.Errorf("%w: %s is %T, want a string", policy.ErrBadInput, key, v)
		}
	}
	if c.Task, err = str(k.Prompt); err != nil {
		return o, c, err
	}
	if on(k.Subtask) {
		if c.Subtask, err = str(k.Subtask); err != nil {
			return o, c, err
		}
	}
	if on(k.Speed) {
		if c.Metadata.Speed, err = str(k.Speed); err != nil {
			return o, c, err
		}
	}
	if v, ok := m[k.Quality]; ok && on(k.Quality) && v != nil {
		q, ok := ndarray.Int(v)
		if f, isF := v.(float64); isF && f == math.Trunc(f) && f >= 0 && f <= 5 {
			q, ok = int64(f), true
		}
		if !ok || q < 0 || q > 5 {
			return bad("%s is %v, want an integer 0..5", k.Quality, v)
		}
		c.Metadata.Quality = int(q)
	}
	if v, ok := m[k.Mistake]; ok && on(k.Mistake) && v != nil {
		b, ok := v.(bool)
		if !ok {
			return bad("%s is %T, want a bool", k.Mistake, v)
		}
		c.Metadata.Mistake = &b
	}
	if v, ok := m[k.Subgoals]; ok && on(k.Subgoals) && v != nil {
		a, ok := v.(*ndarray.Array)
		if !ok || a.DType != "|u1" || len(a.Shape) != 4 || a.Shape[0] > policy.MaxSubgoalImages {
			return bad("%s must be a |u1 ndarray [N<=%d,H,W,C]", k.Subgoals, policy.MaxSubgoalImages)
		}
		if n := a.Shape[0]; n > 0 {
			per := len(a.Data) / n
			for i := range n {
				c.SubgoalImages = append(c.SubgoalImages, a.Data[i*per:(i+1)*per])
			}
		}
	}
	return o, c, nil
}

// chunkFromArray reads an action array [H,D] into a chunk.
func chunkFromArray(v any) (policy.Chunk, error) {
	a, ok := v.(*ndarray.Array)
	if !ok {
		return policy.Chunk{}, fmt.Errorf("%w: actions are %T, want an ndarray [H,D]", ndarray.ErrBadMessage, v)
	}
	if len(a.Shape) != 2 {
		return policy.Chunk{}, fmt.Errorf("%w: actions have shape %v, want [H,D]", ndarray.ErrBadMessage, a.Shape)
	}
	vals, err := a.Float32s()
	if err != nil {
		return policy.Chunk{}, err
	}
	h, d := a.Shape[0], a.Shape[1]
	ch := policy.Chunk{Actions: make([][]float32, h)}
	for i := range h {
		ch.Actions[i] = vals[i*d : (i+1)*d : (i+1)*d]
	}
	return ch, nil
}

// chunkToArray writes a chunk as a "<f4" array [H,D].
func chunkToArray(c policy.Chunk) (*ndarray.Array, error) {
	h := len(c.Actions)
	d := 0
	if h > 0 {
		d = len(c.Actions[0])
	}
	flat := make([]float32, 0, h*d)
	for _, a := range c.Actions {
		if len(a) != d {
			return nil, fmt.Errorf("%w: ragged action chunk", policy.ErrBadInput)
		}
		flat = append(flat, a...)
	}
	return ndarray.NewFloat32(flat, h, d), nil
}
