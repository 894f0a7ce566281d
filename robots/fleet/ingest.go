package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/scenarios"
)

// onUpload takes a chunk of an assignment's log (or a question about
// which chunks are in) and answers with the chunks held.
func (c *Coordinator) onUpload(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseUpload(id, msg.Data)
	if err != nil {
		c.respond(msg, UploadReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	err = c.assigner.upload(id, m, c.cfg.Now())
	c.mu.Unlock()
	if err != nil {
		c.respond(msg, UploadReply{Error: ReplyError(err)})
		return
	}
	ctx, cancel := context.WithTimeout(c.runCtx, 10*time.Second)
	defer cancel()
	if m.Op == UploadChunk {
		if err := c.intake.put(ctx, m); err != nil {
			c.respond(msg, UploadReply{Error: ReplyError(err)})
			return
		}
	}
	have, err := c.intake.chunks(ctx, m.Assignment)
	c.respond(msg, UploadReply{Have: have, Error: ReplyError(err)})
}

// ingest assembles and checks the uploaded log of as, stores it in the
// object store and the episode store, records the request's result and
// frees the robot.
func (c *Coordinator) ingest(ctx context.Context, as *assignment, m Outcome) (string, error) {
	a := as.a.ID
	data, err := c.intake.assemble(ctx, a, *m.Log)
	if err != nil {
		return "", err
	}
	ep := &episode.Episode{}
	if err := episode.DecodeSteps(data, ep); err != nil {
		return "", fmt.Errorf("log of assignment %s: %w", a, err)
	}
	c.mu.Lock()
	var embodiment string
	if r := c.assigner.robots[as.robot]; r != nil {
		embodiment = r.info.Embodiment
	}
	c.mu.Unlock()
	ep.Meta = meta(as, m, embodiment, ep.Meta, c.cfg.Now().UTC())
	if err := ep.Validate(); err != nil {
		return "", fmt.Errorf("log of assignment %s: %w", a, err)
	}
	if err := c.intake.store(ctx, as, data, ep); err != nil {
		return "", err
	}
	res := resultOf(as.p, as)
	res.EpisodeResult, res.EpisodeID, res.Started, res.Finished = m.EpisodeResult, a, m.Started, m.Finished
	if err := c.record(ctx, as.p, res); err != nil {
		return "", err
	}
	c.intake.purge(ctx, a)
	c.mu.Lock()
	c.assigner.finished(as, c.cfg.Now())
	c.mu.Unlock()
	c.log.Info("fleet: episode stored", "request", as.p.req.ID, "robot", as.robot, "episode", a, "success", m.Success, "steps", m.Steps)
	return a, nil
}

// record stores a request's result once and acknowledges the request.
func (c *Coordinator) record(ctx context.Context, p *pending, res Result) error {
	raw, _ := json.Marshal(res)
	_, err := c.results.Create(ctx, p.req.ID, raw)
	if err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("%w: record result: %w", errcode.Unavailable, err)
	}
	_ = p.msg.Ack()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.assigner.answered(p)
	if err != nil {
		return nil // recorded before, by an earlier attempt
	}
	c.done++
	now := c.cfg.Now()
	c.finished = append(c.finished, now)
	cut := 0
	for cut < len(c.finished) && now.Sub(c.finished[cut]) > time.Minute {
		cut++
	}
	c.finished = c.finished[cut:]
	return nil
}

// meta is the stored episode's metadata: provenance from the coordinator's
// own record of the assignment and the robot's registered embodiment, the
// outcome from the robot.
func meta(as *assignment, m Outcome, embodiment string, shapes episode.Meta, now time.Time) episode.Meta {
	req := as.p.req
	seed := req.Seed
	md := shapes
	md.ID, md.Source, md.RobotID, md.Policy, md.Scenario, md.Seed = as.a.ID, "fleet", as.robot, req.Policy().Name(), req.Scenario, &seed
	md.Created = now
	md.Outcome = &episode.Outcome{Success: m.Success, MaxReward: m.MaxReward, FinalCoverage: m.Coverage}
	if sc, err := scenarios.Lookup(req.Scenario); err == nil {
		md.Instruction = sc.Instruction
	}
	prov := &episode.Provenance{Assignment: as.a.ID, Request: req.ID, PolicyEndpoint: req.OpenPI,
		Started: m.Started.UTC(), Finished: m.Finished.UTC(), Received: now, Embodiment: embodiment}
	if req.OpenPI != "" && len(req.OpenPIOptions) > 0 {
		prov.PolicyBackend, prov.PolicyOptions = "openpi", maps.Clone(req.OpenPIOptions)
		delete(prov.PolicyOptions, "api_key") // a secret
	}
	if a := req.Arm; a != nil {
		prov.PolicyBackend, prov.PolicyOptions = a.Backend, a.Options
		if s := a.Context; s != nil {
			if s.Task != "" {
				md.Instruction = s.Task
			}
			md.Extra = map[string]string{}
			if s.Speed != "" {
				md.Extra["steer_speed"] = s.Speed
			}
			if s.Quality != 0 {
				md.Extra["steer_quality"] = strconv.Itoa(s.Quality)
			}
			if s.Mistake != nil {
				md.Extra["steer_mistake"] = strconv.FormatBool(*s.Mistake)
			}
		}
	}
	if m.Violated != nil {
		if md.Extra == nil {
			md.Extra = map[string]string{}
		}
		md.Extra["zone_violated"] = strconv.FormatBool(*m.Violated)
		if m.MinClearance != nil {
			md.Extra["zone_min_clearance"] = strconv.FormatFloat(*m.MinClearance, 'f', 2, 64)
		}
	}
	md.Provenance = prov
	return md
}
