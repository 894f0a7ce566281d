package imagine

import (
	"context"

	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
)

// PushTStart is the PushT Starter: the camera frame and pusher position
// after the simulator's legacy reset of the seed, what a real evaluation on
// the robot would start from.
func PushTStart(ctx context.Context, seed int64) (worldmodel.Observation, error) {
	if err := ctx.Err(); err != nil {
		return worldmodel.Observation{}, err
	}
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(seed)
	o := env.Observe()
	return worldmodel.Observation{Frame: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}, nil
}
