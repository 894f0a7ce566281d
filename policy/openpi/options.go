package openpi

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// LayoutOption is one option ParseLayout reads: the backend's options,
// `policy serve --openpi`'s flags (with "-" for "_") and a fleet request's
// openpi_options use the same names.
type LayoutOption struct {
	Name, Usage string
}

// LayoutOptions are the options that set a layout, in the order to
// document them.
var LayoutOptions = []LayoutOption{
	{"layout", "preset to start from: " + strings.Join(Presets(), ", ") + " (default flat)"},
	{"image_key", "key path of the main camera, e.g. observation/image or images.cam_high (\".\" nests maps)"},
	{"cameras", "further cameras as NAME=KEY,... (NAME is the observation's frame name); \"-\" for none"},
	{"missing_cameras", "a listed camera the observation lacks: zeros (send a black frame) or omit"},
	{"state_key", "state keys as KEY[:N],... splitting the proprioception in order (the last may omit N)"},
	{"image_size", "image size on the wire, HxW (e.g. 224x224), or native (no resize)"},
	{"image_layout", "axis order of images: hwc or chw"},
	{"image_dtype", "image dtype: uint8 or float32 (in [0,1])"},
	{"resize", "pad (keep the aspect ratio, pad with black, as openpi's clients do) or stretch"},
	{"steering", "send and read dreamrank's steering keys (subtask, metadata/*, subgoal images): true or false"},
	{"prompt_key", "key of the task text (default prompt)"},
	{"actions_key", "key of the reply's action chunk (default actions)"},
}

func isLayoutOption(name string) bool {
	return slices.ContainsFunc(LayoutOptions, func(o LayoutOption) bool { return o.Name == name })
}

// ParseLayout builds a layout from options: the preset named by "layout"
// (flat by default) with the other options overriding it. An unknown option
// or value is an ErrBadLayout error; options named in also are left to the
// caller.
func ParseLayout(opts map[string]string, also ...string) (Layout, error) {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		if !isLayoutOption(k) && !slices.Contains(also, k) {
			names := slices.Clone(also)
			for _, o := range LayoutOptions {
				names = append(names, o.Name)
			}
			return Layout{}, fmt.Errorf("%w: unknown option %q (have %s)", ErrBadLayout, k, strings.Join(names, ", "))
		}
	}
	l, err := Preset(opts["layout"])
	if err != nil {
		return Layout{}, err
	}
	for _, o := range LayoutOptions[1:] {
		v, ok := opts[o.Name]
		if !ok {
			continue
		}
		if err := l.set(o.Name, strings.TrimSpace(v)); err != nil {
			return Layout{}, fmt.Errorf("%w: option %s=%q: %v", ErrBadLayout, o.Name, v, err)
		}
	}
	if err := l.Validate(); err != nil {
		return Layout{}, err
	}
	return l, nil
}

// set applies one option other than "layout".
func (l *Layout) set(name, v string) error {
	var err error
	switch name {
	case "image_key":
		l.Image = v
	case "cameras":
		l.Cameras, err = parseCameras(v)
	case "missing_cameras":
		l.FillCameras, err = choice(v, "omit", "zeros")
	case "state_key":
		l.State, err = parseState(v)
	case "image_size":
		l.Height, l.Width, err = parseSize(v)
	case "image_layout":
		l.CHW, err = choice(v, "hwc", "chw")
	case "image_dtype":
		l.Float32, err = choice(v, "uint8", "float32")
	case "resize":
		l.Stretch, err = choice(v, "pad", "stretch")
	case "steering":
		var b bool
		if b, err = strconv.ParseBool(v); err == nil {
			l.setSteering(b)
		}
	case "prompt_key":
		l.Prompt = v
	case "actions_key":
		l.Actions = v
	}
	return err
}

// choice is false for no, true for yes, an error otherwise.
func choice(v, no, yes string) (bool, error) {
	switch strings.ToLower(v) {
	case no:
		return false, nil
	case yes:
		return true, nil
	}
	return false, fmt.Errorf("want %s or %s", no, yes)
}

func (l *Layout) setSteering(b bool) {
	d := Layout{}.withDefaults()
	if !b {
		d.Subtask, d.Speed, d.Quality, d.Mistake, d.Subgoals = off, off, off, off, off
	}
	l.Subtask, l.Speed, l.Quality, l.Mistake, l.Subgoals = d.Subtask, d.Speed, d.Quality, d.Mistake, d.Subgoals
}

// parseCameras reads NAME=KEY,... ("-" or "" for none).
func parseCameras(v string) (map[string]string, error) {
	if v == "" || v == off {
		return nil, nil
	}
	out := map[string]string{}
	for _, item := range strings.Split(v, ",") {
		name, key, ok := strings.Cut(strings.TrimSpace(item), "=")
		name, key = strings.TrimSpace(name), strings.TrimSpace(key)
		if !ok || name == "" || key == "" {
			return nil, fmt.Errorf("camera %q, want NAME=KEY", item)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("camera %q listed twice", name)
		}
		out[name] = key
	}
	return out, nil
}

// parseState reads KEY[:N],...
func parseState(v string) ([]StateKey, error) {
	var out []StateKey
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		key, n, sized := strings.Cut(item, ":")
		s := StateKey{Key: strings.TrimSpace(key)}
		if sized {
			size, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil || size <= 0 {
				return nil, fmt.Errorf("state key %q: size %q, want a positive integer", s.Key, n)
			}
			s.Size = size
		}
		if s.Key == "" {
			return nil, fmt.Errorf("empty state key in %q", v)
		}
		out = append(out, s)
	}
	return out, nil
}

// parseSize reads HxW, or native (0, 0).
func parseSize(v string) (int, int, error) {
	if strings.EqualFold(v, "native") {
		return 0, 0, nil
	}
	hs, ws, ok := strings.Cut(strings.ToLower(v), "x")
	h, err1 := strconv.Atoi(hs)
	w, err2 := strconv.Atoi(ws)
	if !ok || err1 != nil || err2 != nil || h <= 0 || w <= 0 || h > maxSide || w > maxSide {
		return 0, 0, fmt.Errorf("want HxW with sides 1..%d (e.g. 224x224), or native", maxSide)
	}
	return h, w, nil
}

// Options renders the layout as options ParseLayout reads back.
func (l Layout) Options() map[string]string {
	l = l.withDefaults()
	cams := make([]string, 0, len(l.Cameras))
	for _, name := range slices.Sorted(maps.Keys(l.Cameras)) {
		cams = append(cams, name+"="+l.Cameras[name])
	}
	state := make([]string, len(l.State))
	for i, s := range l.State {
		state[i] = s.Key
		if s.Size > 0 {
			state[i] += ":" + strconv.Itoa(s.Size)
		}
	}
	pick := func(b bool, no, yes string) string {
		if b {
			return yes
		}
		return no
	}
	size := "native"
	if l.Height > 0 {
		size = fmt.Sprintf("%dx%d", l.Height, l.Width)
	}
	out := map[string]string{
		"image_key": l.Image, "cameras": pick(len(cams) == 0, strings.Join(cams, ","), off),
		"missing_cameras": pick(l.FillCameras, "omit", "zeros"), "state_key": strings.Join(state, ","),
		"image_size": size, "image_layout": pick(l.CHW, "hwc", "chw"), "image_dtype": pick(l.Float32, "uint8", "float32"),
		"resize": pick(l.Stretch, "pad", "stretch"), "prompt_key": l.Prompt, "actions_key": l.Actions,
	}
	if slices.Contains(Presets(), l.Name) {
		out["layout"] = l.Name
	}
	out["steering"] = strconv.FormatBool(on(l.Subtask))
	return out
}
