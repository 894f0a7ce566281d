package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/episode"
)

// onRequest takes a queued request from JetStream.
func (c *Coordinator) onRequest(msg jetstream.Msg) {
	var r EpisodeRequest
	if err := json.Unmarshal(msg.Data(), &r); err != nil || r.Validate() != nil {
		c.log.Warn("fleet: dropping a malformed request", "subject", msg.Subject())
		_ = msg.Term()
		return
	}
	if _, ok, err := c.Client.Result(c.runCtx, r.ID); err == nil && ok {
		_ = msg.Ack() // answered already: a repeated request
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.assigner.add(r, msg) {
		c.poke()
	}
}

// respond answers a request message with v, if it asked for a reply.
func (c *Coordinator) respond(msg *nats.Msg, v any) {
	if msg.Reply == "" {
		return
	}
	raw, _ := json.Marshal(v)
	_ = msg.Respond(raw)
}

// onRegister (re)registers a robot.
func (c *Coordinator) onRegister(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseRegister(id, msg.Data)
	if err != nil {
		c.respond(msg, RegisterReply{Error: ReplyError(err)})
		return
	}
	now := c.cfg.Now()
	c.mu.Lock()
	c.recordFailure(c.assigner.register(id, m, now))
	c.mu.Unlock()
	c.log.Info("fleet: robot registered", "robot", id, "embodiment", m.Embodiment, "scenes", m.Scenes)
	c.respond(msg, RegisterReply{HeartbeatMS: c.cfg.HeartbeatEvery.Milliseconds()})
	c.poke()
}

// onHeartbeat keeps a robot online and tells it whether its assignment
// still stands.
func (c *Coordinator) onHeartbeat(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseHeartbeat(id, msg.Data)
	if err != nil {
		c.respond(msg, HeartbeatReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	rep, freed := c.assigner.heartbeat(id, m, c.cfg.Now())
	c.mu.Unlock()
	c.respond(msg, rep)
	if freed {
		c.poke()
	}
}

// onProgress notes how far a robot's episode got.
func (c *Coordinator) onProgress(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseProgress(id, msg.Data)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.assigner.progress(id, m, c.cfg.Now())
}

// onOutcome takes a robot's outcome: a failed episode is retired, a
// finished one ingested (ingest), and a repeat answered as before.
func (c *Coordinator) onOutcome(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseOutcome(id, msg.Data)
	if err != nil {
		c.respond(msg, OutcomeReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	as := c.assigner.held(id, m.Assignment)
	if as != nil && m.Error != nil {
		c.retire(as, fmt.Errorf("robot %s: %w", id, ErrOf(m.Error)), false)
	}
	c.mu.Unlock()
	if as == nil {
		c.respond(msg, c.repeatOutcome(id, m.Assignment))
		return
	}
	if m.Error != nil {
		c.respond(msg, OutcomeReply{})
		c.poke()
		return
	}
	ctx, cancel := context.WithTimeout(c.runCtx, time.Minute)
	defer cancel()
	epID, err := c.ingest(ctx, as, m)
	if err != nil {
		c.log.Warn("fleet: outcome not taken", "robot", id, "assignment", m.Assignment, "err", err)
		if errors.Is(err, episode.ErrCorrupt) || errors.Is(err, episode.ErrInvalid) {
			c.mu.Lock()
			if c.assigner.held(id, m.Assignment) == as {
				c.retire(as, err, false)
			}
			c.mu.Unlock()
			c.poke()
		}
		c.respond(msg, OutcomeReply{Error: ReplyError(err)})
		return
	}
	c.respond(msg, OutcomeReply{EpisodeID: epID})
	c.poke()
}

// repeatOutcome answers an outcome for an assignment that is not held: a
// retry of one already recorded succeeds again, anything else is not
// yours.
func (c *Coordinator) repeatOutcome(id, a string) OutcomeReply {
	c.mu.Lock()
	var req string
	if as := c.assigner.assignments[a]; as != nil {
		req = as.p.req.ID
	}
	c.mu.Unlock()
	if req == "" {
		req = c.intake.requestOf(c.runCtx, a) // among recorded results, via its log
	}
	if req != "" {
		if r, ok, err := c.Client.Result(c.runCtx, req); err == nil && ok && r.Assignment == a && r.Robot == id {
			return OutcomeReply{EpisodeID: r.EpisodeID}
		}
	}
	return OutcomeReply{Error: ReplyError(fmt.Errorf("%w: %s", ErrNotYours, a))}
}
