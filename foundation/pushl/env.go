package pushl

import (
	"math"
	"math/rand/v2"

	"dreamrank/foundation/pusht"
	"dreamrank/foundation/raster"
	"dreamrank/foundation/tabletop"
)

// Env is the PushL physics world with ground-truth access. It is not safe
// for concurrent use; planners use Clone for independent copies.
type Env struct {
	w      *tabletop.World
	canvas raster.Canvas // 512x512 frame reused across renders
}

// New returns an environment with the pusher at (256,400) and the block at
// (256,300), angle 0, before any reset. It panics if SimHz is not a
// positive multiple of ControlHz.
func New(cfg pusht.Config) *Env {
	return &Env{w: tabletop.NewWorld(tabletop.Config(cfg), layout)}
}

// resetStream separates the reset's PCG stream from other users of a seed.
const resetStream = 0x5eed_1b10c

// Reset starts an episode from seed's initial condition (see the package
// doc): a fresh world, pusher and block at rest.
func (e *Env) Reset(seed int64) {
	e.SetState(InitialState(seed))
}

// InitialState is the state Reset(seed) starts from.
func InitialState(seed int64) pusht.State {
	r := rand.New(rand.NewPCG(uint64(seed), resetStream))
	ax, ay := 50+r.IntN(400), 50+r.IntN(400)
	bx, by := 100+r.IntN(300), 100+r.IntN(300)
	ba := 2*math.Pi*r.Float64() - math.Pi
	return pusht.State{
		Agent: pusht.Vec2{X: float64(ax), Y: float64(ay)},
		Block: pusht.Pose{X: float64(bx), Y: float64(by), Angle: ba},
	}
}

// SetState teleports the world to s, as pusht.Env.SetState does: the steps
// that follow do not depend on what the environment did before, and the
// block starts at rest.
func (e *Env) SetState(s pusht.State) {
	e.w.SetState(tabletop.State{
		Agent: tabletop.Vec2(s.Agent), AgentVel: tabletop.Vec2(s.AgentVel), Block: tabletop.Pose(s.Block),
	})
}

// State returns the ground truth, the block angle reduced modulo 2pi.
func (e *Env) State() pusht.State {
	s := e.w.State()
	return pusht.State{Agent: pusht.Vec2(s.Agent), AgentVel: pusht.Vec2(s.AgentVel), Block: pusht.Pose(s.Block)}
}

// Step drives the pusher towards target for one control period (PushT's
// PD law and sub-steps) and scores the block's new pose. It does not render.
func (e *Env) Step(target pusht.Vec2) pusht.StepInfo {
	e.w.Drive(tabletop.Vec2(target))
	return Outcome(pusht.Pose(e.w.BlockPose()))
}

// Clone returns an independent environment in the same physical state,
// with pusht.Env.Clone's caveats (contact caches are not copied).
func (e *Env) Clone() *Env { return &Env{w: e.w.Clone()} }

// Observe renders the current state as the robot's observation: the 96x96
// frame and the pusher position.
func (e *Env) Observe() pusht.Observation {
	s := e.State()
	return pusht.Observation{Image: e.Render(ObsSize), Agent: s.Agent}
}

// Render draws the current state at size x size RGB (512 is the native
// frame). It panics only if OpenCV fails to resize, which indicates a broken
// installation rather than a bad state.
func (e *Env) Render(size int) []uint8 {
	s := e.State()
	img, err := render(&e.canvas, s.Agent, s.Block, size, true)
	if err != nil {
		panic(err)
	}
	return img
}
