package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
)

// schedule assigns queued requests to idle robots, the longest idle first.
func (c *Coordinator) schedule(ctx context.Context) {
	var out []*assignment
	c.mu.Lock()
	if len(c.groups) > 0 {
		var idle []*robot
		for _, r := range c.robots {
			if r.state == StateIdle && r.assignment == nil {
				idle = append(idle, r)
			}
		}
		slices.SortFunc(idle, func(a, b *robot) int {
			return cmp.Or(a.idleSince.Compare(b.idleSince), strings.Compare(a.info.Robot, b.info.Robot))
		})
		now := c.cfg.Now()
		for _, r := range idle {
			p := c.take(r)
			for p != nil && c.byRequest[p.req.ID] != p {
				p = c.take(r) // answered while it waited (a late outcome of an earlier attempt)
			}
			if p == nil {
				continue
			}
			p.attempts++
			as := &assignment{p: p, robot: r.info.Robot, started: now, a: Assignment{
				ID: uuid.NewString(), Request: p.req.ID, Policy: p.req.Policy(), Scenario: p.req.Scenario,
				Seed: p.req.Seed, MaxSteps: p.req.MaxSteps, Deadline: now.Add(c.cfg.EpisodeTimeout), ChunkSize: c.cfg.ChunkSize,
			}}
			p.current = as
			r.assignment, r.state, r.progress = as, StateBusy, Progress{}
			c.assignments[as.a.ID] = as
			out = append(out, as)
		}
	}
	c.mu.Unlock()
	for _, as := range out {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.dispatch(ctx, as) }()
	}
}

// dispatch sends an assignment to its robot.
func (c *Coordinator) dispatch(ctx context.Context, as *assignment) {
	raw, _ := json.Marshal(as.a)
	rctx, cancel := context.WithTimeout(ctx, c.cfg.AssignTimeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(rctx, RobotSubject(as.robot, VerbAssign), raw)
	var rep AssignReply
	if err == nil {
		if err = json.Unmarshal(msg.Data, &rep); err == nil {
			err = ErrOf(rep.Error)
			if err == nil && !rep.Accepted {
				err = errcode.New(errcode.Internal, "assignment not accepted")
			}
		}
	}
	if err == nil {
		c.log.Debug("fleet: assigned", "robot", as.robot, "assignment", as.a.ID, "request", as.a.Request, "policy", as.a.Policy.Name())
		return
	}
	c.log.Warn("fleet: assignment refused or lost", "robot", as.robot, "request", as.a.Request, "err", err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.robots[as.robot]; r != nil && r.assignment == as {
		r.assignment = nil
		if errors.Is(err, ErrBusy) {
			r.state = StateBusy // wait for its heartbeat to say idle
		} else {
			r.state = StateOffline // unresponsive: it must register again
		}
	}
	if as.p.current == as {
		as.p.attempts-- // never started: not an attempt
		c.retire(as, err, false)
	}
	c.poke()
}

// retire ends assignment as without a result and requeues its request, or
// records the error when the request has used its attempts. Callers hold
// mu.
func (c *Coordinator) retire(as *assignment, why error, cancelRobot bool) {
	delete(c.assignments, as.a.ID)
	p := as.p
	if p.current == as {
		p.current = nil
	}
	if r := c.robots[as.robot]; r != nil && r.assignment == as {
		r.assignment = nil
		if r.state == StateBusy {
			r.state, r.idleSince = StateIdle, c.cfg.Now()
		}
	}
	if cancelRobot {
		raw, _ := json.Marshal(Cancel{Assignment: as.a.ID, Reason: why.Error()})
		_ = c.nc.Publish(RobotSubject(as.robot, VerbCancel), raw)
	}
	p.lastErr = why
	if c.byRequest[p.req.ID] != p {
		return // answered already (or being answered by an earlier attempt)
	}
	if p.attempts >= c.cfg.MaxAttempts {
		c.log.Error("fleet: request failed on every attempt", "request", p.req.ID, "attempts", p.attempts, "err", why)
		res := c.resultOf(p, as)
		res.Error = ReplyError(why)
		delete(c.byRequest, p.req.ID)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.record(c.runCtx, p, res); err != nil {
				c.log.Error("fleet: record failed request", "request", p.req.ID, "err", err)
			}
		}()
		return
	}
	c.log.Info("fleet: reassigning", "request", p.req.ID, "robot", as.robot, "attempt", p.attempts, "reason", why)
	c.enqueue(p, true)
}

// sweep declares silent robots offline, expires overrunning assignments
// and keeps held requests from being redelivered.
func (c *Coordinator) sweep(ctx context.Context) {
	now := c.cfg.Now()
	silent := time.Duration(c.cfg.MissedHeartbeats) * c.cfg.HeartbeatEvery
	var keep []jetstream.Msg
	c.mu.Lock()
	for id, r := range c.robots {
		if r.state != StateOffline && now.Sub(r.lastSeen) > silent {
			c.log.Warn("fleet: robot went silent", "robot", id, "last_seen", r.lastSeen)
			r.state = StateOffline
			if as := r.assignment; as != nil {
				c.retire(as, fmt.Errorf("%w: robot %s missed %d heartbeats", errcode.Timeout, id, c.cfg.MissedHeartbeats), false)
			}
		}
	}
	for _, as := range c.assignments {
		if now.After(as.a.Deadline) {
			c.retire(as, fmt.Errorf("%w: robot %s did not finish in %v", errcode.Timeout, as.robot, c.cfg.EpisodeTimeout), true)
		}
	}
	if now.Sub(c.lastKeep) > c.cfg.AckWait/3 {
		c.lastKeep = now
		for _, p := range c.byRequest {
			keep = append(keep, p.msg)
		}
	}
	c.mu.Unlock()
	for _, m := range keep {
		_ = m.InProgress()
	}
}
