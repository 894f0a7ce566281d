// Package tabletop is the physical world both simulated pushing scenes share
// (foundation/pusht, foundation/pushl): a 512x512 table closed by four wall
// segments, a kinematic disc pusher whose velocity a PD controller drives
// towards a target each control step, and one rigid block made of two
// convex quadrilaterals, simulated with Chipmunk2D
// (github.com/jakecoffman/cp/v2) with PushT's reference parameters: 100 Hz
// physics, 10 Hz control, no friction, no elasticity, space damping 0.
//
// A scene supplies its block (Layout) and everything seen or scored: goal,
// coverage, colours and resets. World keeps the physics exactly as the PushT
// reference builds it (insertion order, shape ids, resets that are
// bit-identical to a fresh world), so PushT's behaviour does not depend on
// sharing it. OverlapArea is the exact area two convex quadrilaterals share,
// from which the scenes compute goal coverage.
package tabletop
