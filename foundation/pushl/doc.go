// Package pushl is the second simulated pushing scene, PushL: the same
// table, walls, pusher disc and PD controller as PushT (foundation/tabletop),
// with an L-shaped block in one flat orange and an L-shaped target drawn in
// violet at a fixed pose of its own. It exists so that scene-agnostic parts
// (world models that learn from pixels, frame judges) can be trained and
// checked on a scene nobody wrote them for.
//
// Everything observable matches PushT's conventions, so episode stores,
// world models and policies need no change: 96x96 RGB frames resized from a
// 512x512 table, proprioception the pusher's position and actions its
// absolute target, both in table pixels, at 10 Hz, for at most 300 steps.
// The types (Vec2, Pose, State, StepInfo, Observation) are pusht's.
//
// The L is a 120x30 bar with a 30x60 leg under one end (5,400 px^2), not
// rotationally symmetric, so its angle can be read from a frame. Its body
// frame has the origin at the centre of gravity, so a pose is the CoG and
// the angle. Unlike PushT's T, which keeps the reference's doubled moment,
// its mass (1) spreads evenly over its area and its moment is the true one.
// Friction, elasticity and damping are PushT's (none).
//
// Reset(seed) draws the pusher uniformly in [50,450)^2 (integers, as
// PushT), the block's CoG in [100,400)^2 and its angle uniformly in
// [-pi,pi), from a PCG stream of the seed. Coverage is the fraction of the
// target's area the block covers (exact polygon clipping); reward and
// success follow PushT: reward coverage/0.95 clipped to [0,1], success when
// coverage exceeds 0.95.
package pushl
