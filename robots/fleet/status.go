package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
)

// RobotStatus is one robot as the coordinator sees it.
type RobotStatus struct {
	Robot      string   `json:"robot"`
	Embodiment string   `json:"embodiment"`
	Scenes     []string `json:"scenes"`
	State      string   `json:"state"` // idle, busy, offline
	// Assignment, Request and Policy describe the current assignment.
	Assignment   string    `json:"assignment,omitempty"`
	Request      string    `json:"request,omitempty"`
	Policy       string    `json:"policy,omitempty"`
	Step         int       `json:"step,omitempty"`
	MaxSteps     int       `json:"max_steps,omitempty"`
	EpisodesDone int       `json:"episodes_done"`
	LastSeen     time.Time `json:"last_seen"`
}

// Status is the fleet at a moment.
type Status struct {
	Robots []RobotStatus `json:"robots"`
	// Queued requests wait for a robot; Running ones are assigned; Done
	// counts results recorded since the coordinator started.
	Queued  int `json:"queued"`
	Running int `json:"running"`
	Done    int `json:"done"`
	// Throughput is episodes per second over the last minute (or since
	// the start, if shorter).
	Throughput float64        `json:"episodes_per_second"`
	Since      time.Time      `json:"since"`
	Error      *errcode.Error `json:"error,omitempty"`
}

// Status reports the fleet's robots and throughput.
func (c *Coordinator) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	st := Status{Done: c.done, Running: len(c.assigner.assignments), Queued: c.assigner.queued(), Since: c.started}
	n := 0
	for _, t := range c.finished {
		if now.Sub(t) <= time.Minute {
			n++
		}
	}
	if win := min(now.Sub(c.started), time.Minute); win > 0 {
		st.Throughput = float64(n) / win.Seconds()
	}
	for id, r := range c.assigner.robots {
		rs := RobotStatus{Robot: id, Embodiment: r.info.Embodiment, Scenes: r.info.Scenes, State: r.state,
			EpisodesDone: r.done, LastSeen: r.lastSeen}
		if as := r.assignment; as != nil {
			rs.Assignment, rs.Request, rs.Policy = as.a.ID, as.a.Request, as.a.Policy.Name()
			rs.Step, rs.MaxSteps = r.progress.Step, r.progress.MaxSteps
		}
		st.Robots = append(st.Robots, rs)
	}
	slices.SortFunc(st.Robots, func(a, b RobotStatus) int { return strings.Compare(a.Robot, b.Robot) })
	return st
}

func (c *Coordinator) onStatus(msg *nats.Msg) { c.respond(msg, c.Status()) }

// FetchStatus asks the coordinator on nc for the fleet's status.
func FetchStatus(ctx context.Context, nc *nats.Conn) (Status, error) {
	msg, err := nc.RequestWithContext(ctx, StatusSubject, nil)
	if err != nil {
		return Status{}, fmt.Errorf("fleet: status (is a coordinator running?): %w: %w", errcode.Unavailable, err)
	}
	var st Status
	if err := json.Unmarshal(msg.Data, &st); err != nil {
		return Status{}, fmt.Errorf("fleet: status: %w", err)
	}
	return st, ErrOf(st.Error)
}
