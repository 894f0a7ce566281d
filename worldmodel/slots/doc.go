// Package slots is a generic learned world model of rigid objects moved
// over a static background by a robot, registered as backend "slots". It
// learns everything from what an episode store holds for any robot: camera
// frames, proprioception and actions of any dimension, episode boundaries.
// No scene's pose reader, renderer, simulator or constant is inside.
package slots

import "errors"

// Sentinel errors of the package.
var (
	// ErrNoData: no usable training episodes, frames or objects.
	ErrNoData = errors.New("slots: no training data")
	// ErrConfig: a configuration that cannot be trained or run.
	ErrConfig = errors.New("slots: bad configuration")
)
