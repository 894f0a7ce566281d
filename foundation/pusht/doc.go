// Package pusht is the PushT benchmark as a simulated robot: a kinematic
// circular pusher moves a T-shaped block on a 512x512 table towards a fixed
// goal pose, simulated with Chipmunk2D (github.com/jakecoffman/cp/v2) using
// the reference parameters of Diffusion Policy's pymunk environment
// (see docs/references.md section 1).
//
// The package has three layers:
//   - Env: the physics world with ground-truth access (State, SetState,
//     Clone), for replay, fidelity checks and planners;
//   - rendering that reproduces the reference pygame frames pixel for pixel
//     at 512x512 and resizes them with OpenCV (gocv) to the 96x96 observation;
//   - Robot: what a fleet member exposes, observations in and targets out,
//     with ground truth only behind GroundTruth.
//
// The table, the pusher and the physics world are foundation/tabletop's and
// the rasteriser is foundation/raster's, shared with the second scene
// (foundation/pushl); this package holds what is PushT's own: the T, its
// goal, the legacy seeded reset, the reference colours and the pose reader.
//
// Coverage, reward and success follow the reference: the area of the goal T
// covered by the block T, reward coverage/0.95 clipped to [0,1], success when
// coverage exceeds 0.95. MeasureFidelity compares the simulator with the
// recorded human demonstrations.
package pusht
