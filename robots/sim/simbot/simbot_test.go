package simbot

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/policy"
	"dreamrank/policy/openpi"
	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"

	_ "dreamrank/policy/scripted"
)

func assignment(scene string, seed int64) fleet.Assignment {
	arm := zoo.Arm{Name: "scripted-q5", Backend: "scripted", Options: map[string]string{"quality": "5"}}
	return fleet.Assignment{ID: "6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a", Policy: fleet.PolicySpec{Arm: &arm}, Scenario: scene, Seed: seed, MaxSteps: 12}
}

func TestRunScenes(t *testing.T) {
	r := &Robot{}
	tests := []struct {
		name  string
		scene string
		zone  bool
	}{
		{"pusht", ScenePushT, false},
		{"safety", SceneSafety, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			steps := 0
			res, log, err := r.Run(context.Background(), assignment(tt.scene, 3), func(s, max int) { steps = s })
			if err != nil {
				t.Fatal(err)
			}
			if res.Steps != 12 || steps != 12 || (res.Violated != nil) != tt.zone || (res.MinClearance != nil) != tt.zone {
				t.Fatalf("result %+v, %d progress steps", res, steps)
			}
			var ep episode.Episode
			if err := episode.DecodeSteps(log, &ep); err != nil || ep.Steps != 12 || ep.FrameH != 96 || ep.ActionDim != 2 || ep.GroundTruthDim != 5 {
				t.Fatalf("log: %v, %+v", err, ep.Meta)
			}
			// The same assignment plays the same episode (paired episodes
			// compare policies, not luck).
			_, again, err := r.Run(context.Background(), assignment(tt.scene, 3), func(int, int) {})
			if err != nil || !bytes.Equal(log, again) {
				t.Fatalf("a second run differs (%v)", err)
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	r := &Robot{}
	_, _, err := r.Run(context.Background(), assignment("mars", 1), func(int, int) {})
	if !errors.Is(err, ErrUnknownScene) || errcode.CodeOf(err) != errcode.UnknownScenario {
		t.Fatalf("unknown scene: %v", err)
	}
	a := assignment(ScenePushT, 1)
	a.Policy.Arm.Backend = "nope"
	if _, _, err := r.Run(context.Background(), a, func(int, int) {}); errcode.CodeOf(err) != errcode.UnknownPolicy {
		t.Fatalf("unknown backend: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := r.Run(ctx, assignment(ScenePushT, 1), func(int, int) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestRunOpenPI: the robot acts from an openpi endpoint that wants
// another observation layout (LIBERO's: 224x224 frames, a wrist camera);
// the assignment's openpi_options say so.
func TestRunOpenPI(t *testing.T) {
	served, err := policy.Open(context.Background(), "scripted", policy.Options{"quality": "5"})
	if err != nil {
		t.Fatal(err)
	}
	libero, err := openpi.Preset(openpi.LayoutLIBERO)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(openpi.Serve(served, openpi.ServerOptions{Layout: libero, Logf: func(string, ...any) {}}))
	defer srv.Close()
	tests := []struct {
		name string
		opts map[string]string
		want string // in the error; "" for none
	}{
		{"libero layout", map[string]string{"layout": "libero"}, ""},
		{"flat layout to a libero server", nil, "observation/image is |u1 [96 96 3], want |u1 [224,224,3]"},
		{"unknown layout", map[string]string{"layout": "bridge"}, `unknown layout "bridge"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := assignment(ScenePushT, 3)
			a.Policy = fleet.PolicySpec{OpenPI: srv.URL, OpenPIOptions: tt.opts}
			res, _, err := (&Robot{}).Run(context.Background(), a, func(int, int) {})
			if tt.want == "" {
				if err != nil || res.Steps != 12 {
					t.Fatalf("result %+v, %v", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
}
