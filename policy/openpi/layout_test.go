package openpi

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseLayout(t *testing.T) {
	droid, _ := Preset(LayoutDROID)
	tests := []struct {
		name  string
		opts  map[string]string
		check func(Layout) bool
	}{
		{"default is flat", nil, func(l Layout) bool {
			return l.Name == LayoutFlat && l.Image == "observation/image" && l.Height == 0 && l.Subtask == "subtask" &&
				reflect.DeepEqual(l.State, []StateKey{{"observation/state", 0}})
		}},
		{"droid preset", map[string]string{"layout": "droid"}, func(l Layout) bool { return reflect.DeepEqual(l, droid) }},
		{"aloha nests and goes channels first", map[string]string{"layout": "aloha"}, func(l Layout) bool {
			return l.Image == "images.cam_high" && l.CHW && l.Height == 224 && !l.FillCameras && l.Subgoals == off
		}},
		{"overrides", map[string]string{"layout": "libero", "image_key": "cams.top", "image_size": "96X128", "image_layout": "CHW",
			"image_dtype": "float32", "resize": "stretch", "missing_cameras": "omit", "prompt_key": "task", "actions_key": "act"},
			func(l Layout) bool {
				return l.Name == LayoutLIBERO && l.Image == "cams.top" && l.Height == 96 && l.Width == 128 && l.CHW && l.Float32 &&
					l.Stretch && !l.FillCameras && l.Prompt == "task" && l.Actions == "act"
			}},
		{"cameras and state", map[string]string{"cameras": "wrist=obs/wrist, side = obs/side", "state_key": "q:6, g:1 ,rest"},
			func(l Layout) bool {
				return reflect.DeepEqual(l.Cameras, map[string]string{"wrist": "obs/wrist", "side": "obs/side"}) &&
					reflect.DeepEqual(l.State, []StateKey{{"q", 6}, {"g", 1}, {"rest", 0}})
			}},
		{"no cameras", map[string]string{"layout": "droid", "cameras": "-"}, func(l Layout) bool { return len(l.Cameras) == 0 }},
		{"native size", map[string]string{"layout": "droid", "image_size": "native"}, func(l Layout) bool { return l.Height == 0 && l.Width == 0 }},
		{"steering on for an openpi preset", map[string]string{"layout": "droid", "steering": "true"}, func(l Layout) bool {
			return l.Subtask == "subtask" && l.Subgoals == "observation/subgoal_images"
		}},
		{"steering off for flat", map[string]string{"steering": "false"}, func(l Layout) bool {
			return !on(l.Subtask) && !on(l.Speed) && !on(l.Quality) && !on(l.Mistake) && !on(l.Subgoals)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLayout(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(l) {
				t.Fatalf("layout %+v", l)
			}
			// Options renders it back.
			again, err := ParseLayout(l.Options())
			if err != nil || !reflect.DeepEqual(again, l) {
				t.Fatalf("Options %v parse back to %+v (%v)", l.Options(), again, err)
			}
		})
	}
}

func TestParseLayoutErrors(t *testing.T) {
	tests := []struct {
		name string
		opts map[string]string
		want string
	}{
		{"unknown option", map[string]string{"image_keys": "x"}, `unknown option "image_keys"`},
		{"unknown preset", map[string]string{"layout": "bridge"}, `unknown layout "bridge" (have flat, droid, aloha, libero)`},
		{"size", map[string]string{"image_size": "224"}, "want HxW"},
		{"zero size", map[string]string{"image_size": "0x224"}, "want HxW"},
		{"huge size", map[string]string{"image_size": "100000x2"}, "want HxW"},
		{"order", map[string]string{"image_layout": "whc"}, "want hwc or chw"},
		{"dtype", map[string]string{"image_dtype": "float16"}, "want uint8 or float32"},
		{"resize", map[string]string{"resize": "crop"}, "want pad or stretch"},
		{"missing cameras", map[string]string{"missing_cameras": "copy"}, "want omit or zeros"},
		{"steering", map[string]string{"steering": "maybe"}, "steering"},
		{"camera syntax", map[string]string{"cameras": "wrist"}, "want NAME=KEY"},
		{"camera twice", map[string]string{"cameras": "a=x,a=y"}, "listed twice"},
		{"state size", map[string]string{"state_key": "q:-1"}, "positive integer"},
		{"state empty key", map[string]string{"state_key": "q:7,,g"}, "empty state key"},
		{"open state not last", map[string]string{"state_key": "q,g:1"}, "has no size but is not the last"},
		{"empty path part", map[string]string{"image_key": "images..cam"}, "empty part"},
		{"empty image key", map[string]string{"image_key": "."}, "empty part"},
		{"overlap", map[string]string{"image_key": "images", "cameras": "w=images.wrist"}, "overlap"},
		{"same key twice", map[string]string{"state_key": "prompt"}, "overlap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLayout(tt.opts)
			if !errors.Is(err, ErrBadLayout) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrBadLayout with %q", err, tt.want)
			}
		})
	}
}

func TestParseClientOptions(t *testing.T) {
	url, co, err := ParseClientOptions(map[string]string{"url": "ws://h:8000", "api_key": "k", "frame_size": "120x160", "layout": "libero"})
	if err != nil || url != "ws://h:8000" || co.APIKey != "k" || co.Spec.FrameH != 120 || co.Spec.FrameW != 160 || co.Spec.Channels != 3 || co.Layout.Name != LayoutLIBERO {
		t.Fatalf("%q %+v %v", url, co, err)
	}
	for name, opts := range map[string]map[string]string{
		"no url":       {"layout": "droid"},
		"bad frame":    {"url": "x", "frame_size": "native"},
		"unknown":      {"url": "x", "uri": "y"},
		"bad layout":   {"url": "x", "layout": "nope"},
		"bad override": {"url": "x", "image_dtype": "f8"},
	} {
		if _, _, err := ParseClientOptions(opts); !errors.Is(err, ErrBadOption) && !errors.Is(err, ErrBadLayout) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, _, err := ParseClientOptions(map[string]string{"url": "x", "uri": "y"}); err == nil || !strings.Contains(err.Error(), "url, api_key, frame_size, layout") {
		t.Errorf("unknown option error does not list the options: %v", err)
	}
}

func TestKeyPaths(t *testing.T) {
	m := map[string]any{}
	setPath(m, "images.cam_high", 1)
	setPath(m, "images.cam_low", 2)
	setPath(m, "observation/state", 3)
	want := map[string]any{"images": map[string]any{"cam_high": 1, "cam_low": 2}, "observation/state": 3}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("setPath built %v", m)
	}
	tests := []struct {
		path string
		want any
		ok   bool
	}{
		{"images.cam_high", 1, true},
		{"observation/state", 3, true},
		{"images.cam_left_wrist", nil, false},
		{"images.cam_high.x", nil, false},
		{"nothing", nil, false},
	}
	for _, tt := range tests {
		if got, ok := getPath(m, tt.path); ok != tt.ok || got != tt.want {
			t.Errorf("getPath(%q) = %v %v", tt.path, got, ok)
		}
	}
	// A flat key with a dot is read too.
	if got, ok := getPath(map[string]any{"images.cam_high": 7}, "images.cam_high"); !ok || got != 7 {
		t.Errorf("flat dotted key: %v %v", got, ok)
	}
}

func FuzzParseLayout(f *testing.F) {
	f.Add("droid", "observation/image", "wrist=a.b", "q:7,g:1", "224x224", "chw", "float32")
	f.Add("aloha", "images.cam_high", "-", "state", "native", "hwc", "uint8")
	f.Add("", "..", "=,=", ":,:", "x", "", "")
	f.Fuzz(func(t *testing.T, preset, image, cameras, state, size, order, dtype string) {
		opts := map[string]string{"layout": preset, "image_key": image, "cameras": cameras, "state_key": state,
			"image_size": size, "image_layout": order, "image_dtype": dtype}
		l, err := ParseLayout(opts)
		if err != nil {
			if !errors.Is(err, ErrBadLayout) {
				t.Fatalf("error %v is not ErrBadLayout", err)
			}
			return
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("parsed an invalid layout: %v", err)
		}
		again, err := ParseLayout(l.Options())
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Fatalf("round trip: %+v -> %v -> %+v (%v)", l, l.Options(), again, err)
		}
	})
}
