// Package slots is a generic learned world model, registered as backend
// "slots": objects moved by a robot over a static background, seen by a
// fixed camera. It learns everything from what an episode store holds for
// any robot (camera frames of any size, proprioception and actions of any
// dimension, episode boundaries); no scene's pose reader, renderer,
// simulator or constant is inside (TestNoSceneCodeInside checks its whole
// import graph).
//
// What it learns, in order (Train, `dreamrank wm train-slots`):
//
//   - The background: the per-pixel median of the episodes' first frames
//     (objects start in varied places but often end, and stay, in the same
//     one).
//   - The objects: pixels that depart from the background form regions;
//     the number of objects is the most regions seen apart in at least a
//     tenth of the frames, and the regions of those frames are grouped by
//     colour and size (k-means).
//   - A sprite per object, its learned renderer: every clean sighting is
//     placed by the moments of its coverage (centroid, major axis, the sign
//     of the third moment) and averaged into a super-resolved patch (Scale
//     cells per pixel) of coverage and premultiplied colour; the sightings
//     are then refitted to the sprite and averaged again. Sampling the
//     sprite at a pixel's centre gives the camera's anti-aliasing without a
//     model of it; drawing order comes from frames where objects touch.
//   - Every object's pose in every training frame, by analysis by
//     synthesis: the scene is rendered at candidate poses and each pose
//     moved by Levenberg-Marquardt until the rendering matches the frame
//     around the object (objects drawn over it take part, so a partly
//     hidden object is fitted by what shows). Each frame starts from the
//     previous frame's poses; fresh searches try the moments' angle, its
//     opposite and a grid of turns.
//   - The robot: its next proprioception is linear in its last two
//     displacements, the action and its position (least squares); an
//     object whose position the proprioception explains linearly is an
//     effector (the robot's body, placed by that calibration), the others
//     are passive.
//   - Each passive object's motion: an MLP whose inputs are the effectors'
//     positions at t-1, t, t+1 and t+2 in the object's own frame and each
//     position's contact depth (its distance from the learned footprint
//     less the effector's radius), and whose outputs are its shift (in its own frame) and turn, so contact learned
//     in one place holds everywhere. It is trained multi-step: windows are
//     unrolled through the network's own predictions and every step's
//     keypoints (footprint points spread over the object) compared with
//     the fitted ones. When no effector's path comes within its radius
//     plus a margin of the object's footprint, the object stays exactly
//     where it is.
//
// Imagining (Model.Start, Rollout.Step): the context frames are fitted
// like training frames, effectors are placed from the proprioception, and
// every step predicts the proprioception, moves the passive objects and
// draws the learned background and sprites. Frames are therefore as sharp
// at step 300 as at step 1; what drifts is the objects' poses.
//
// Limits: a fixed camera and a static background; rigid objects of one
// appearance (no deformation, no lighting change); effectors that
// translate with the proprioception (their turn is fixed); passive objects
// move only when an effector touches them (no object-object contact, no
// momentum of their own).
//
// The checkpoint (CheckpointFormat) holds the scene, the fitted heads and
// the networks as tensors and the layout (which object is what) in its
// config; it is versioned, checksummed and resumable like every
// dreamrank checkpoint. Option "noise" (with "seed") makes a perturbed
// draw of the dynamics, for ensembles.
package slots

import "errors"

// Sentinel errors of the package.
var (
	// ErrNoData: no usable training episodes, frames or objects.
	ErrNoData = errors.New("slots: no training data")
	// ErrConfig: a configuration that cannot be trained or run.
	ErrConfig = errors.New("slots: bad configuration")
)
