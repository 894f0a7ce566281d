package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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
		_, err = c.js.PublishMsg(ctx, &nats.Msg{Subject: UploadSubject(m.Assignment, m.Index), Data: m.Data},
			jetstream.WithMsgID(m.Assignment+"."+strconv.Itoa(m.Index)))
		if err != nil {
			c.respond(msg, UploadReply{Error: ReplyError(fmt.Errorf("%w: store chunk: %w", errcode.Unavailable, err))})
			return
		}
	}
	have, err := c.chunks(ctx, m.Assignment)
	c.respond(msg, UploadReply{Have: have, Error: ReplyError(err)})
}

// chunks lists the chunk indices of assignment a's log the coordinator
// holds.
func (c *Coordinator) chunks(ctx context.Context, a string) ([]int, error) {
	info, err := c.uploads.Info(ctx, jetstream.WithSubjectFilter(UploadPrefix+"."+a+".>"))
	if err != nil {
		return nil, fmt.Errorf("%w: upload state: %w", errcode.Unavailable, err)
	}
	have := []int{}
	for s := range info.State.Subjects {
		if i, err := strconv.Atoi(s[strings.LastIndexByte(s, '.')+1:]); err == nil {
			have = append(have, i)
		}
	}
	slices.Sort(have)
	return have, nil
}

// ingest assembles and checks the uploaded log, stores it in the object
// store and the episode store, and records the request's result.
func (c *Coordinator) ingest(ctx context.Context, as *assignment, m Outcome) (string, error) {
	a := as.a.ID
	data := make([]byte, 0, m.Log.Size)
	for i := range m.Log.Chunks {
		raw, err := c.uploads.GetLastMsgForSubject(ctx, UploadSubject(a, i))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return "", fmt.Errorf("%w: chunk %d of %d missing", ErrIncomplete, i, m.Log.Chunks)
		}
		if err != nil {
			return "", fmt.Errorf("%w: chunk %d: %w", errcode.Unavailable, i, err)
		}
		data = append(data, raw.Data...)
	}
	if int64(len(data)) != m.Log.Size || SHA256(data) != m.Log.SHA256 {
		// Damaged: drop the chunks so the robot sends them again.
		_ = c.uploads.Purge(ctx, jetstream.WithPurgeSubject(UploadPrefix+"."+a+".>"))
		return "", fmt.Errorf("%w: log is %d bytes with sha256 %s, outcome says %d and %s",
			ErrIncomplete, len(data), SHA256(data)[:12], m.Log.Size, m.Log.SHA256[:12])
	}
	ep := &episode.Episode{}
	if err := episode.DecodeSteps(data, ep); err != nil {
		return "", fmt.Errorf("log of assignment %s: %w", a, err)
	}
	now := c.cfg.Now().UTC()
	ep.Meta = c.meta(as, m, ep.Meta, now)
	if err := ep.Validate(); err != nil {
		return "", fmt.Errorf("log of assignment %s: %w", a, err)
	}
	hdr := nats.Header{}
	hdr.Set("Dreamrank-Request", as.p.req.ID)
	hdr.Set("Dreamrank-Robot", as.robot)
	if _, err := c.logs.Put(ctx, jetstream.ObjectMeta{Name: a, Description: "steps.zst of fleet episode " + a, Headers: hdr},
		strings.NewReader(string(data))); err != nil {
		return "", fmt.Errorf("%w: store log: %w", errcode.Unavailable, err)
	}
	if st := c.cfg.Episodes; st != nil {
		if err := st.Put(ctx, ep, episode.PutOptions{}); err != nil && !errors.Is(err, episode.ErrExists) {
			return "", fmt.Errorf("%w: store episode: %w", errcode.Unavailable, err)
		}
	}
	res := resultOf(as.p, as)
	res.EpisodeResult, res.EpisodeID, res.Started, res.Finished = m.EpisodeResult, a, m.Started, m.Finished
	if err := c.record(ctx, as.p, res); err != nil {
		return "", err
	}
	_ = c.uploads.Purge(ctx, jetstream.WithPurgeSubject(UploadPrefix+"."+a+".>"))
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
// own record of the assignment, the outcome from the robot.
func (c *Coordinator) meta(as *assignment, m Outcome, shapes episode.Meta, now time.Time) episode.Meta {
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
		Started: m.Started.UTC(), Finished: m.Finished.UTC(), Received: now}
	c.mu.Lock()
	if r := c.assigner.robots[as.robot]; r != nil {
		prov.Embodiment = r.info.Embodiment
	}
	c.mu.Unlock()
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
