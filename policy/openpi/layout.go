package openpi

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrBadLayout: a layout or layout option that cannot be used.
var ErrBadLayout = errors.New("openpi: bad layout")

// Layout says what an observation looks like on the wire: the keys that
// carry the cameras, the state and the steering, and the image size, axis
// order and dtype the server wants. The zero value is the flat (dreamrank)
// layout; a key left empty takes that layout's key, and an optional
// steering key set to "-" is neither sent nor read.
//
// Key paths name nested maps with "." ("images.cam_high" is the entry
// cam_high of the map under "images"), because "/" is part of openpi's
// flat keys ("observation/image").
type Layout struct {
	// Name is the preset the layout started from ("" for the flat one).
	Name string
	// Image is the main camera's key path (policy.Observation.Image).
	Image string
	// Cameras map further cameras (policy.Observation.Frames names) to key
	// paths. A camera the observation lacks is left out, or sent as a
	// black frame when FillCameras is set.
	Cameras map[string]string
	// FillCameras sends a black frame for a listed camera the observation
	// lacks: openpi's DROID and LIBERO policies read their wrist camera
	// unconditionally and pad absent cameras with zeros themselves.
	FillCameras bool
	// State splits policy.Observation.Proprio over keys, in order; nil
	// means one key, observation/state.
	State []StateKey
	// Height and Width are the image size on the wire; 0 means the
	// observation's own (the client) or the policy's frame (the server).
	Height, Width int
	// CHW puts channels first ([C,H,W], as openpi's ALOHA policy reads
	// them) instead of last ([H,W,C]).
	CHW bool
	// Float32 sends images as float32 in [0,1] instead of uint8.
	Float32 bool
	// Stretch resizes without keeping the aspect ratio; by default a frame
	// is scaled to fit and padded with black, as openpi's clients do
	// (openpi_client/image_tools.py, resize_with_pad).
	Stretch bool
	// Prompt is the task text's key (policy.Context.Task); the client
	// always sends it, "" when there is no task, as pi0-family servers
	// require it.
	Prompt string
	// Subtask, Speed, Quality, Mistake and Subgoals are dreamrank's
	// steering keys (PROTOCOL.md); "-" disables one.
	Subtask, Speed, Quality, Mistake, Subgoals string
	// Actions is the reply's action chunk, float [H,D].
	Actions string
}

// StateKey is one part of the state: Size values of the proprioception
// (0: all that remain) under the key path Key.
type StateKey struct {
	Key  string
	Size int
}

// off marks a steering key that is neither sent nor read.
const off = "-"

// The layout presets (Preset): the flat layout dreamrank's own servers use
// and openpi's published example layouts.
const (
	LayoutFlat   = "flat"
	LayoutDROID  = "droid"
	LayoutALOHA  = "aloha"
	LayoutLIBERO = "libero"
)

// Presets lists the preset names.
func Presets() []string { return []string{LayoutFlat, LayoutDROID, LayoutALOHA, LayoutLIBERO} }

// Preset returns a named layout. The openpi ones follow openpi's examples
// (Physical-Intelligence/openpi), which their servers' input transforms
// read; they send no dreamrank steering keys, which openpi's policies do
// not read.
func Preset(name string) (Layout, error) {
	openpiKeys := func(l Layout) Layout {
		l.Name, l.Height, l.Width = name, 224, 224
		l.Subtask, l.Speed, l.Quality, l.Mistake, l.Subgoals = off, off, off, off, off
		return l
	}
	switch name {
	case LayoutFlat, "":
		return Layout{Name: LayoutFlat}.withDefaults(), nil
	case LayoutDROID:
		// src/openpi/policies/droid_policy.py (make_droid_example,
		// DroidInputs) and examples/droid/main.py: two uint8 [224,224,3]
		// cameras (exterior, wrist), joints [7] and gripper [1] as two keys.
		return openpiKeys(Layout{
			Image:       "observation/exterior_image_1_left",
			Cameras:     map[string]string{"wrist": "observation/wrist_image_left"},
			FillCameras: true,
			State:       []StateKey{{"observation/joint_position", 7}, {"observation/gripper_position", 1}},
		}).withDefaults(), nil
	case LayoutALOHA:
		// src/openpi/policies/aloha_policy.py (AlohaInputs, EXPECTED_CAMERAS),
		// examples/aloha_sim/env.py and examples/simple_client/main.py: a
		// nested "images" map of uint8 [3,224,224] (channels first) cameras,
		// cam_high required and the others optional, and "state" [14].
		return openpiKeys(Layout{
			Image: "images.cam_high",
			Cameras: map[string]string{"cam_low": "images.cam_low",
				"cam_left_wrist": "images.cam_left_wrist", "cam_right_wrist": "images.cam_right_wrist"},
			State: []StateKey{{"state", 0}},
			CHW:   true,
		}).withDefaults(), nil
	case LayoutLIBERO:
		// src/openpi/policies/libero_policy.py (make_libero_example,
		// LiberoInputs) and examples/libero/main.py: uint8 [224,224,3] main
		// and wrist cameras, "observation/state" [8].
		return openpiKeys(Layout{
			Image:       "observation/image",
			Cameras:     map[string]string{"wrist": "observation/wrist_image"},
			FillCameras: true,
			State:       []StateKey{{"observation/state", 0}},
		}).withDefaults(), nil
	}
	return Layout{}, fmt.Errorf("%w: unknown layout %q (have %s)", ErrBadLayout, name, strings.Join(Presets(), ", "))
}

// withDefaults fills empty keys with the flat layout's.
func (l Layout) withDefaults() Layout {
	for _, f := range []struct {
		dst *string
		def string
	}{
		{&l.Image, "observation/image"}, {&l.Prompt, "prompt"}, {&l.Subtask, "subtask"},
		{&l.Speed, "metadata/speed"}, {&l.Quality, "metadata/quality"}, {&l.Mistake, "metadata/mistake"},
		{&l.Subgoals, "observation/subgoal_images"}, {&l.Actions, "actions"},
	} {
		if *f.dst == "" {
			*f.dst = f.def
		}
	}
	if len(l.State) == 0 {
		l.State = []StateKey{{"observation/state", 0}}
	}
	l.State = slices.Clone(l.State)
	l.Cameras = maps.Clone(l.Cameras)
	if len(l.Cameras) == 0 {
		l.Cameras = nil
	}
	if l.Name == "" {
		l.Name = LayoutFlat
	}
	return l
}

func on(key string) bool { return key != "" && key != off }

// Validate checks a layout (after withDefaults): key paths well formed and
// apart, sizes in range, at most one state part of open size and it last.
func (l Layout) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadLayout, fmt.Sprintf(format, args...))
	}
	if (l.Height == 0) != (l.Width == 0) || l.Height < 0 || l.Width < 0 || l.Height > maxSide || l.Width > maxSide {
		return bad("image size %dx%d (each side 1..%d, or both 0)", l.Height, l.Width, maxSide)
	}
	for i, s := range l.State {
		if s.Size < 0 || s.Size > maxState {
			return bad("state key %s: size %d (0..%d)", s.Key, s.Size, maxState)
		}
		if s.Size == 0 && i != len(l.State)-1 {
			return bad("state key %s has no size but is not the last", s.Key)
		}
	}
	for name := range l.Cameras {
		if name == "" {
			return bad("a camera without a name")
		}
	}
	paths := l.paths()
	for i, p := range paths {
		if err := checkPath(p.path); err != nil {
			return bad("%s: %v", p.what, err)
		}
		for _, q := range paths[:i] {
			if overlap(p.path, q.path) {
				return bad("%s %q and %s %q overlap", q.what, q.path, p.what, p.path)
			}
		}
	}
	return nil
}

// Limits of layouts.
const (
	maxSide  = 4096
	maxState = 4096
)

type namedPath struct{ what, path string }

// paths lists every key path the layout uses, cameras in name order.
func (l Layout) paths() []namedPath {
	out := []namedPath{{"image key", l.Image}}
	for _, name := range slices.Sorted(maps.Keys(l.Cameras)) {
		out = append(out, namedPath{"camera " + name, l.Cameras[name]})
	}
	for _, s := range l.State {
		out = append(out, namedPath{"state key", s.Key})
	}
	for _, k := range []namedPath{{"prompt key", l.Prompt}, {"subtask key", l.Subtask}, {"speed key", l.Speed},
		{"quality key", l.Quality}, {"mistake key", l.Mistake}, {"subgoals key", l.Subgoals}} {
		if on(k.path) {
			out = append(out, k)
		}
	}
	return out
}

func checkPath(p string) error {
	if p == "" || p == off {
		return errors.New("empty key")
	}
	if len(p) > 256 {
		return fmt.Errorf("key of %d bytes (at most 256)", len(p))
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("key path %q has an empty part", p)
		}
	}
	return nil
}

// overlap: the same key, or one nested inside the other.
func overlap(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".")
}

// setPath puts v at key path p in m, making the nested maps.
func setPath(m map[string]any, p string, v any) {
	segs := strings.Split(p, ".")
	for _, s := range segs[:len(segs)-1] {
		sub, ok := m[s].(map[string]any)
		if !ok {
			sub = map[string]any{}
			m[s] = sub
		}
		m = sub
	}
	m[segs[len(segs)-1]] = v
}

// getPath reads key path p from m: the flat key first (a server may send
// "images.cam_high" flat), then the nested maps.
func getPath(m map[string]any, p string) (any, bool) {
	if v, ok := m[p]; ok {
		return v, true
	}
	segs := strings.Split(p, ".")
	for i, s := range segs {
		v, ok := m[s]
		if !ok {
			return nil, false
		}
		if i == len(segs)-1 {
			return v, true
		}
		if m, ok = v.(map[string]any); !ok {
			return nil, false
		}
	}
	return nil, false
}

// String describes the layout in one line, for errors and Describe.
func (l Layout) String() string {
	order, dtype := "HWC", "uint8"
	if l.CHW {
		order = "CHW"
	}
	if l.Float32 {
		dtype = "float32"
	}
	size := "native size"
	if l.Height > 0 {
		size = fmt.Sprintf("%dx%d", l.Height, l.Width)
	}
	return fmt.Sprintf("%s (%s %s %s at %s)", l.Name, dtype, order, size, l.Image)
}
