// Package overlap reads from a camera frame, by colour alone, how much of a
// target region a single-coloured object covers: coverage = |object ∩
// target| / |target|, counted in pixels. It knows nothing of any scene:
// callers give the object's colour, the target's colour and a tolerance,
// and it imports nothing of the simulators (a test checks its dependencies).
//
// Assumptions, each of which a scene must meet for the reading to mean
// anything:
//   - The object is drawn in one flat colour, and so is the target region
//     where nothing lies on it; other things (the table, a pusher, walls)
//     are farther than the tolerance from both colours and from the line of
//     their mixes.
//   - The camera looks straight down and does not move, so the target
//     region is the same set of pixels in every frame. TargetMask reads it
//     from frames: the union of the target-coloured pixels of all of them,
//     with enclosed holes filled. A frame in which the target is fully
//     visible gives it exactly; an episode's own frames give it as long as
//     every target pixel is uncovered in some frame (or is enclosed by
//     pixels that are).
//   - The object lies on the target, not under it: a target pixel showing
//     the object colour is covered, one showing the target colour is not,
//     and one showing anything else (a pusher, say) is not covered (two
//     rigid bodies on a table do not overlap).
//
// Edge pixels are mixes of the colours on either side (resizing blends
// them). A target pixel counts as covered when it lies within tolerance of
// the object–target mix line and nearer the object's end, so a boundary
// between object and target splits its pixels evenly; the target region
// takes the pixels within tolerance of the target colour, which splits
// target–table edges evenly when the tolerance is about half the distance
// from the target colour to the table's (DefaultTolerance suits a light
// target on a white table).
//
// The reading is a pixel count, so its error is about a pixel row along the
// covered region's boundary: docs/scenes.md gives it against the PushL
// simulator's exact coverage.
package overlap
