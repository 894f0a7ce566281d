package expert

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
	"dreamrank/scenarios"
)

func TestPushLSolvesEasySeeds(t *testing.T) {
	env := pushl.New(pusht.Config{})
	for _, seed := range []int64{100000, 100001} {
		r, err := Run(context.Background(), env, seed, Options{Scene: "pushl"})
		if err != nil {
			t.Fatal(err)
		}
		last := r.States[len(r.States)-1].Block
		if !r.Success || r.Scene != "pushl" || pushl.Coverage(last) <= pushl.SuccessCoverage {
			t.Errorf("seed %d: success %v after %d steps, scene %q, final coverage %.3f",
				seed, r.Success, r.Steps(), r.Scene, pushl.Coverage(last))
		}
	}
}

func TestSceneErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		env  Sim
		opts Options
	}{
		{"unknown scene", pusht.New(pusht.Config{}), Options{Scene: "pushq"}},
		{"pushl in a pusht simulator", pusht.New(pusht.Config{}), Options{Scene: "pushl"}},
		{"pusht in a pushl simulator", pushl.New(pusht.Config{}), Options{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Run(ctx, tc.env, 1, tc.opts); !errors.Is(err, ErrScene) {
				t.Errorf("Run: %v, want ErrScene", err)
			}
		})
	}
	if _, err := NewPlanner().Plan(ctx, pusht.State{}, 1, Options{Scene: "pushl"}, 4); !errors.Is(err, ErrScene) {
		t.Errorf("Planner on pushl: %v, want ErrScene", err)
	}
}

// Generated PushL episodes say which scene they come from and show its
// frames, in the same store format as PushT's.
func TestGeneratePushLRecordsScene(t *testing.T) {
	ctx := context.Background()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Generate(ctx, store, []int64{3}, Options{Scene: "pushl", MaxSteps: 4}, 1, episode.PutOptions{}, nil)
	if err != nil || rep.Episodes != 1 {
		t.Fatalf("Generate: %+v, %v", rep, err)
	}
	ep, err := store.Get(ctx, rep.IDs[0])
	if err != nil {
		t.Fatal(err)
	}
	sc := scenarios.PushL()
	if ep.Scenario != sc.Name || ep.Instruction != sc.Instruction || ep.Steps != 4 || ep.FrameH != pushl.ObsSize {
		t.Errorf("meta: scenario %q, instruction %q, %d steps, %dx%d frames", ep.Scenario, ep.Instruction, ep.Steps, ep.FrameH, ep.FrameW)
	}
	s := pushl.InitialState(3)
	want, err := pushl.RenderState(s.Agent, s.Block, pushl.ObsSize)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ep.Frames[0], want) {
		t.Error("first frame is not PushL's initial state")
	}
	if len(ep.Proprio[0]) != 2 || len(ep.Actions[0]) != 2 || len(ep.GroundTruth[0]) != 5 {
		t.Errorf("row sizes: proprio %d, actions %d, ground truth %d", len(ep.Proprio[0]), len(ep.Actions[0]), len(ep.GroundTruth[0]))
	}
}
