package expert

import (
	"errors"
	"fmt"
	"slices"

	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
	"dreamrank/scenarios"
)

// ErrScene: an unknown scene name, or a simulator of another scene.
var ErrScene = errors.New("expert: scene")

// Sim is a simulated pushing scene the expert plays in and plans with;
// *pusht.Env and *pushl.Env are Sims.
type Sim interface {
	SetState(pusht.State)
	State() pusht.State
	Step(pusht.Vec2) pusht.StepInfo
}

// scene is what the expert needs of a simulated scene: its block and goal,
// its simulator, and how its episodes are recorded.
type scene struct {
	scenario scenarios.Scenario
	body     *body
	goal     pusht.Pose
	newSim   func() Sim
	// model returns a private simulator of sim's kind and configuration.
	model  func(sim Sim) (Sim, error)
	reset  func(sim Sim, seed int64) error
	render func(agent pusht.Vec2, block pusht.Pose, size int) ([]uint8, error)
}

// DefaultScene is the scene of Options with no Scene: PushT.
const DefaultScene = "pusht"

var scenes = map[string]*scene{
	"pusht": {
		scenario: scenarios.PushT(),
		body:     teeBody,
		goal:     pusht.Goal,
		newSim:   func() Sim { return pusht.New(pusht.Config{}) },
		model: func(s Sim) (Sim, error) {
			e, err := simOf[*pusht.Env]("pusht", s)
			if err != nil {
				return nil, err
			}
			return e.Clone(), nil
		},
		reset: func(s Sim, seed int64) error {
			e, err := simOf[*pusht.Env]("pusht", s)
			if err == nil {
				e.ResetLegacy(seed)
			}
			return err
		},
		render: pusht.RenderState,
	},
	"pushl": {
		scenario: scenarios.PushL(),
		body:     lBody,
		goal:     pushl.Goal,
		newSim:   func() Sim { return pushl.New(pusht.Config{}) },
		model: func(s Sim) (Sim, error) {
			e, err := simOf[*pushl.Env]("pushl", s)
			if err != nil {
				return nil, err
			}
			return e.Clone(), nil
		},
		reset: func(s Sim, seed int64) error {
			e, err := simOf[*pushl.Env]("pushl", s)
			if err == nil {
				e.Reset(seed)
			}
			return err
		},
		render: pushl.RenderState,
	},
}

// lBody is PushL's L: origin at its CoG, mass 1 spread over its area, so
// its moment is its gyration radius squared.
var lBody = func() *body {
	var outline []v2
	for _, p := range pushl.Outline {
		outline = append(outline, v2{p.X, p.Y})
	}
	var rects [][4]float64
	for _, part := range pushl.Parts {
		rects = append(rects, [4]float64{part[0].X, part[0].Y, part[2].X, part[2].Y})
	}
	return newBody(outline, rects, v2{}, pushl.Gyration2, 1, pushl.Gyration2)
}()

func simOf[E Sim](name string, s Sim) (E, error) {
	e, ok := s.(E)
	if !ok {
		return e, fmt.Errorf("%w: scene %s plays in %T, got %T", ErrScene, name, e, s)
	}
	return e, nil
}

// Scenes lists the scenes the expert plays, for Options.Scene.
func Scenes() []string {
	names := make([]string, 0, len(scenes))
	for n := range scenes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func lookupScene(name string) (*scene, error) {
	if name == "" {
		name = DefaultScene
	}
	sc, ok := scenes[name]
	if !ok {
		return nil, fmt.Errorf("%w: unknown scene %q (known: %v)", ErrScene, name, Scenes())
	}
	return sc, nil
}
