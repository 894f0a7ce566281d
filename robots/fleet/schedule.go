package fleet

import (
	"context"
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
)

// The coordinator's side of the assigner's decisions: dispatching
// assignments, cancelling overrun ones, recording failed requests and
// keeping held requests alive in JetStream.

// schedule assigns queued requests to idle robots and dispatches them.
func (c *Coordinator) schedule(ctx context.Context) {
	c.mu.Lock()
	out := c.assigner.assign(c.cfg.Now())
	c.mu.Unlock()
	for _, as := range out {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.dispatch(ctx, as) }()
	}
}

// dispatch sends an assignment to its robot, and takes it back if the
// robot refuses it or does not answer.
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
	c.recordFailure(c.assigner.refused(as, err, c.cfg.Now()))
	c.poke()
}

// retire ends assignment as without a result (assigner.retire), telling
// its robot to cancel when cancelRobot. Callers hold mu.
func (c *Coordinator) retire(as *assignment, why error, cancelRobot bool) {
	if cancelRobot {
		c.cancel(as, why)
	}
	c.recordFailure(c.assigner.retire(as, why, c.cfg.Now()))
}

// cancel tells the robot of as to stop its episode.
func (c *Coordinator) cancel(as *assignment, why error) {
	raw, _ := json.Marshal(Cancel{Assignment: as.a.ID, Reason: why.Error()})
	_ = c.nc.Publish(RobotSubject(as.robot, VerbCancel), raw)
}

// recordFailure records, in the background, the result of a request that
// used its attempts; f may be nil.
func (c *Coordinator) recordFailure(f *failure) {
	if f == nil {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.record(c.runCtx, f.p, f.res); err != nil {
			c.log.Error("fleet: record failed request", "request", f.p.req.ID, "err", err)
		}
	}()
}

// sweep declares silent robots offline, expires overrunning assignments
// and keeps held requests from being redelivered.
func (c *Coordinator) sweep(ctx context.Context) {
	now := c.cfg.Now()
	silent := time.Duration(c.cfg.MissedHeartbeats) * c.cfg.HeartbeatEvery
	var keep []jetstream.Msg
	c.mu.Lock()
	over, failed := c.assigner.expire(now, silent, c.cfg.MissedHeartbeats)
	for _, o := range over {
		c.cancel(o.as, o.why)
	}
	for _, f := range failed {
		c.recordFailure(f)
	}
	if now.Sub(c.lastKeep) > c.cfg.AckWait/3 {
		c.lastKeep = now
		keep = c.assigner.msgs()
	}
	c.mu.Unlock()
	for _, m := range keep {
		_ = m.InProgress()
	}
}
