package pusht

import (
	"fmt"
	"math"

	"dreamrank/foundation/pusht/legacyrng"
	"dreamrank/foundation/raster"
	"dreamrank/foundation/tabletop"
)

// Config selects simulation parameters. The zero value is the reference
// environment; a zero field means "reference value".
type Config = tabletop.Config

// State is the full physical state that SetState restores: pusher position
// and velocity, and the block pose. The block's own velocity is not part of
// it because with space damping 0 the block keeps none once contact stops.
type State struct {
	Agent, AgentVel Vec2
	Block           Pose
}

// StepInfo is the task outcome after one control step.
type StepInfo struct {
	Coverage float64
	Reward   float64
	Success  bool
}

// Env is the PushT physics world with ground-truth access. It is not safe for
// concurrent use; planners use Clone for independent copies.
type Env struct {
	w      *tabletop.World
	canvas raster.Canvas // 512x512 frame reused across renders
}

// New returns an environment in the reference's pre-reset layout: pusher at
// (256,400), block at (256,300) with angle 0. It panics if SimHz is not a
// positive multiple of ControlHz.
func New(cfg Config) *Env {
	return &Env{w: tabletop.NewWorld(cfg, teeLayout)}
}

// ResetLegacy reproduces the reference reset for a seed: a fresh world (see
// SetState),
// RandomState(seed) draws agent randint(50,450) x2, block randint(100,400) x2
// and angle randn()*2pi - pi, the legacy state setter (position, then angle),
// and one physics step. Seeds must lie in [0, 2^32) as NumPy requires; other
// seeds panic.
func (e *Env) ResetLegacy(seed int64) {
	if seed < 0 || seed > math.MaxUint32 {
		panic(fmt.Sprintf("pusht: legacy seed %d outside [0, 2^32)", seed))
	}
	rs := legacyrng.New(uint32(seed))
	ax := float64(rs.Randint(50, 450))
	ay := float64(rs.Randint(50, 450))
	bx := float64(rs.Randint(100, 400))
	by := float64(rs.Randint(100, 400))
	ba := float64(rs.Randn()*2*math.Pi) - math.Pi // no fused multiply-add, as in NumPy
	e.resetLegacyState([5]float64{ax, ay, bx, by, ba})
}

// resetLegacyState is the reference _set_state(legacy=True) on a fresh world,
// followed by its one physics step.
func (e *Env) resetLegacyState(s [5]float64) {
	e.w.PlaceLegacy(tabletop.Vec2{X: s[0], Y: s[1]}, tabletop.Pose{X: s[2], Y: s[3], Angle: s[4]})
}

// SetState teleports the world to s. The physics is reset to what a new
// environment would hold (no cached contacts, same broadphase), so the steps
// that follow do not depend on what this environment did before. The block
// starts at rest.
func (e *Env) SetState(s State) { e.w.SetState(toTable(s)) }

// State returns the ground truth. The block angle is reduced modulo 2pi, as
// the dataset records it.
func (e *Env) State() State { return fromTable(e.w.State()) }

// Step applies one action, an absolute target for the pusher, for one control
// period: each sub-step the PD law sets the pusher's velocity, then the
// physics advances. It does not render.
func (e *Env) Step(target Vec2) StepInfo {
	e.w.Drive(tv(target))
	return Outcome(Pose(e.w.BlockPose()))
}

// Outcome scores a block pose: coverage of the goal, reward and success.
func Outcome(block Pose) StepInfo {
	c := Coverage(block)
	return StepInfo{
		Coverage: c,
		Reward:   math.Min(math.Max(c/SuccessCoverage, 0), 1),
		Success:  c > SuccessCoverage,
	}
}

// Clone returns an independent environment in the same physical state,
// including the block's current velocity. Chipmunk's contact caches (warm
// start impulses, position-correction velocities) cannot be copied, so while
// the pusher is in contact the copy's next steps differ slightly from the
// original's (median well below 0.1 px per step), and a lot when the block is
// jammed between the pusher and a wall, where the solver has no stable answer.
//
// Clone builds a new physics space (about 0.5 ms and 0.5 MB); planners that
// restart many rollouts should keep a few environments and call SetState
// (about 1 µs) instead.
func (e *Env) Clone() *Env { return &Env{w: e.w.Clone()} }
