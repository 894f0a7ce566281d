package slots

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

// tinyConfig trains in about a second on the synthetic store.
func tinyConfig(out string) TrainConfig {
	cfg := DefaultTrainConfig()
	cfg.OutDir = out
	cfg.Scene.Frames, cfg.Scene.Sightings, cfg.Scene.Refine = 1000, 60, 1 // every frame: no sample that depends on store order
	cfg.Model.Hidden, cfg.Model.Layers = 16, 1
	cfg.Steps, cfg.Batch, cfg.Unroll, cfg.CheckpointEvery = 4, 8, 4, 2
	return cfg
}

// tinyModel trains tinyConfig on a synthetic store and loads the result.
func tinyModel(t *testing.T) *Model {
	t.Helper()
	path, err := Train(context.Background(), synthStore(t, 16), tinyConfig(t.TempDir()), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The backend learns a robot and an object it has never been told about
// (64x64 frames, 7-D proprioception and actions), keeps the interface's
// contract, and resumes training where it stopped.
func TestTrainsOnAnotherRobot(t *testing.T) {
	store := synthStore(t, 16)
	out := t.TempDir()
	cfg := tinyConfig(out)
	var msgs []string
	path, err := Train(context.Background(), store, cfg, func(p TrainProgress) {
		if p.Message != "" {
			msgs = append(msgs, p.Message)
		}
	})
	if err != nil {
		t.Fatalf("train: %v\n%s", err, strings.Join(msgs, "\n"))
	}
	m, err := worldmodel.Open(context.Background(), Name, worldmodel.Options{"checkpoint": path})
	if err != nil {
		t.Fatal(err)
	}
	sm := m.(*Model)
	spec := m.Spec()
	if spec.FrameH != synthSize || spec.FrameW != synthSize || spec.ProprioDim != synthDim || spec.ActionDim != synthDim {
		t.Fatalf("spec %+v, want 64x64 frames and 7-D proprioception and actions", spec)
	}
	lay := sm.d.lay
	if len(lay.Sprites) != 2 || len(lay.Effectors) != 1 || len(lay.Passives) != 1 {
		t.Fatalf("layout %+v, want 2 objects: one effector (the square), one passive (the L)\n%s", lay, strings.Join(msgs, "\n"))
	}
	// The square's calibration: its position is read to a fraction of a
	// pixel from the first two joints.
	if e := lay.Effectors[0]; e.RMS > 0.3 {
		t.Errorf("effector calibration RMS %.3f px, want <= 0.3 (the square is drawn exactly where joints 0 and 1 put it)", e.RMS)
	}
	if lay.HeadRMS > 1 {
		t.Errorf("proprioception head RMS %.3f, want <= 1 (the joints move exactly halfway to the action)", lay.HeadRMS)
	}
	modeltest.Contract(t, m)

	cfg.Steps = 8
	again, err := Train(context.Background(), store, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(again) != "slots-v1-step000008" {
		t.Fatalf("resumed run wrote %s, want step 8", again)
	}
}

// An imagined step moves the square where the robot goes and leaves a
// block it does not touch exactly where it was.
func TestImaginesTheRobotAndLeavesUntouchedObjects(t *testing.T) {
	m := tinyModel(t)
	s := synthState{bx: 48, by: 48}
	for j := range s.joints {
		s.joints[j] = 50
	}
	var ctxObs []worldmodel.Observation
	for range 3 {
		p := make([]float32, synthDim)
		for j := range p {
			p[j] = float32(s.joints[j])
		}
		ctxObs = append(ctxObs, worldmodel.Observation{Frame: s.render(), Proprio: p})
	}
	r, err := m.Start(context.Background(), [][]worldmodel.Observation{ctxObs})
	if err != nil {
		t.Fatal(err)
	}
	start := r.(*rollout).states[0].poses
	a := make([]float32, synthDim)
	for j := range a {
		a[j] = 100
	}
	chunk := [][][]float32{{a, a, a, a}}
	if _, err := r.Step(context.Background(), chunk); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		s.step(a)
	}
	end := r.(*rollout).states[0].poses
	d := m.d
	eff, pas := d.lay.Effectors[0].Object, d.lay.Passives[0]
	ex, ey := effectorAt(s.joints)
	// The sprite's origin is the square's centroid, which is its centre.
	if e := math.Hypot(end[eff].X-ex, end[eff].Y-ey); e > 0.5 {
		t.Errorf("imagined square at (%.2f, %.2f), the robot put it at (%.2f, %.2f): %.2f px off, want <= 0.5", end[eff].X, end[eff].Y, ex, ey, e)
	}
	if end[pas] != start[pas] {
		t.Errorf("the untouched block moved from %+v to %+v", start[pas], end[pas])
	}
}

// The generic backend holds no scene's code: nothing it imports is a
// PushT package (pose reader, renderer, simulator) or one of the
// PushT-specific world models, and its own source names no PushT thing.
func TestNoSceneCodeInside(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps listed %d packages, want the whole import graph", len(deps))
	}
	for _, dep := range deps {
		if !strings.HasPrefix(dep, "dreamrank/") {
			continue
		}
		switch {
		case strings.Contains(dep, "pusht"), dep == "dreamrank/worldmodel/latent", dep == "dreamrank/worldmodel/objects",
			strings.HasPrefix(dep, "dreamrank/scenarios"), strings.HasPrefix(dep, "dreamrank/evaluator"), strings.HasPrefix(dep, "dreamrank/policy"):
			t.Errorf("slots depends on %s, which knows a scene", dep)
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		low := strings.ToLower(string(b))
		for _, word := range []string{"pusht", "tee", "goal", "block", "pusher", "512"} {
			if strings.Contains(low, word) {
				t.Errorf("%s mentions %q: the generic backend must not know the scene", f, word)
			}
		}
	}
}
