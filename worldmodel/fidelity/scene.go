package fidelity

import (
	"dreamrank/foundation/episode"
	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
	"dreamrank/scenarios"
)

// objectScene is how the pushed object of an episode's scene is read from
// frames and scored: PushT's T by its pose reader, PushL's L by its
// colour. Poses are table pixels and radians in the scene's convention,
// the convention of the episodes' ground truth.
type objectScene struct {
	read     func(frame []uint8, size int) (pusht.Pose, bool)
	coverage func(pusht.Pose) float64
}

var (
	pushtScene = objectScene{
		read: func(frame []uint8, size int) (pusht.Pose, bool) {
			b, _, ok, _ := pusht.ReadPoses(frame, size)
			return b, ok
		},
		coverage: pusht.Coverage,
	}
	pushlScene = objectScene{read: pushl.ReadFrame, coverage: pushl.Coverage}
)

// sceneOf is the scene an episode was recorded in (PushT unless it says
// otherwise).
func sceneOf(e *episode.Episode) objectScene {
	if e.Scenario == scenarios.PushL().Name {
		return pushlScene
	}
	return pushtScene
}
