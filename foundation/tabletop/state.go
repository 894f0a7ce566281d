package tabletop

import (
	"math"

	"github.com/jakecoffman/cp/v2"
)

// SetState teleports the world to s. The physics is reset to what a new
// world would hold (no cached contacts, same broadphase), so the steps that
// follow do not depend on what this world did before. The block starts at
// rest.
func (w *World) SetState(s State) {
	w.Reset()
	w.agent.SetPosition(cpv(s.Agent))
	w.agent.SetVelocityVector(cpv(s.AgentVel))
	w.setBlockPose(s.Block)
}

// PlaceLegacy is the PushT reference's _set_state(legacy=True) on a fresh
// world followed by its one physics step: the pusher at agent, then the
// block's position set at the current angle before the angle, which turns
// the block about its centre of gravity and so moves its origin away from
// block's X and Y. Seeded resets use it.
func (w *World) PlaceLegacy(agent Vec2, block Pose) {
	w.Reset()
	w.agent.SetPosition(cpv(agent))
	w.block.SetPosition(cp.Vector{X: block.X, Y: block.Y})
	w.block.SetAngle(block.Angle)
	w.space.Step(w.dt)
}

// setBlockPose places the block so that its origin lands exactly on p: the
// angle first (Chipmunk rotates about the centre of gravity, which moves the
// origin), then the position.
func (w *World) setBlockPose(p Pose) {
	w.block.SetAngle(p.Angle)
	w.block.SetPosition(cp.Vector{X: p.X, Y: p.Y})
}

// State returns the ground truth. The block angle is reduced modulo 2pi, as
// the PushT dataset records it.
func (w *World) State() State {
	b := w.BlockPose()
	b.Angle = PyMod(b.Angle, 2*math.Pi)
	return State{Agent: vec(w.agent.Position()), AgentVel: vec(w.agent.Velocity()), Block: b}
}

// BlockPose is the block origin and angle as Chipmunk stores them (the
// angle not reduced).
func (w *World) BlockPose() Pose {
	p := w.block.Position()
	return Pose{p.X, p.Y, w.block.Angle()}
}

// Agent is the pusher's position and velocity.
func (w *World) Agent() (pos, vel Vec2) {
	return vec(w.agent.Position()), vec(w.agent.Velocity())
}

// BlockVelocity is the block's linear and angular velocity after the last
// sub-step (it is zero once contact stops).
func (w *World) BlockVelocity() (Vec2, float64) {
	return vec(w.block.Velocity()), w.block.AngularVelocity()
}

// Drive applies one action, an absolute target for the pusher, for one
// control period: each sub-step the PD law sets the pusher's velocity, then
// the physics advances.
func (w *World) Drive(target Vec2) {
	kp, kv, dt := w.cfg.Kp, w.cfg.Kv, w.dt
	agent, space := w.agent, w.space
	for i := 0; i < w.substeps; i++ {
		p, v := agent.Position(), agent.Velocity()
		// Explicit float64 conversions keep the compiler from fusing
		// multiply-adds, so the arithmetic rounds like the reference's.
		ax := float64(kp*(target.X-p.X)) + float64(kv*(0-v.X))
		ay := float64(kp*(target.Y-p.Y)) + float64(kv*(0-v.Y))
		v.X += float64(ax * dt)
		v.Y += float64(ay * dt)
		agent.SetVelocityVector(v)
		space.Step(dt)
	}
}

// Clone returns an independent world in the same physical state, including
// the block's current velocity. Chipmunk's contact caches (warm start
// impulses, position-correction velocities) cannot be copied, so while the
// pusher is in contact the copy's next steps differ slightly from the
// original's (median well below 0.1 px per step), and a lot when the block
// is jammed between the pusher and a wall, where the solver has no stable
// answer.
//
// Clone builds a new physics space (about 0.5 ms and 0.5 MB); planners that
// restart many rollouts should keep a few worlds and call SetState (about
// 1 µs) instead.
func (w *World) Clone() *World {
	c := NewWorld(w.cfg, w.lay)
	c.SetState(State{Agent: vec(w.agent.Position()), AgentVel: vec(w.agent.Velocity()), Block: w.BlockPose()})
	// Keep the block's velocity from the last sub-step: Chipmunk integrates
	// positions with it at the start of the next sub-step.
	c.block.SetVelocityVector(w.block.Velocity())
	c.block.SetAngularVelocity(w.block.AngularVelocity())
	return c
}

func cpv(v Vec2) cp.Vector { return cp.Vector{X: v.X, Y: v.Y} }

func vec(v cp.Vector) Vec2 { return Vec2{v.X, v.Y} }
