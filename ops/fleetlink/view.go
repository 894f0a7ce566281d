package fleetlink

import (
	"context"
	"fmt"

	"dreamrank/ops/web"
	"dreamrank/robots/fleet"
)

// Coordinator is the fleet as View reads it (*fleet.Coordinator).
type Coordinator interface {
	Status() fleet.Status
}

// View is the fleet as the web UI shows it (web.Fleet).
type View struct {
	Coordinator Coordinator
}

// Robots lists the fleet's robots; a busy robot's task is its request and
// how far its episode got.
func (v View) Robots(context.Context) ([]web.Robot, error) {
	st := v.Coordinator.Status()
	out := make([]web.Robot, 0, len(st.Robots))
	for _, r := range st.Robots {
		task := r.Policy
		if r.Request != "" {
			task = fmt.Sprintf("%s (step %d/%d)", r.Request, r.Step, r.MaxSteps)
		}
		out = append(out, web.Robot{ID: r.Robot, Kind: r.Embodiment, State: r.State, Task: task,
			LastSeen: r.LastSeen, Episodes: r.EpisodesDone})
	}
	return out, nil
}
