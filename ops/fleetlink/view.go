package fleetlink

import (
	"context"
	"fmt"

	"dreamrank/ops/web"
	"dreamrank/robots/fleet"
)

// View is the fleet as the web UI shows it (web.Fleet).
type View struct {
	Coordinator *fleet.Coordinator
}

// Robots lists the fleet's robots.
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
