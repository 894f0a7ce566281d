// Package agent is the robot side of the fleet protocol
// (robots/PROTOCOL.md), for any robot, real or simulated: it registers the
// robot, heartbeats, takes one assignment at a time, runs it through a
// Runner, uploads the episode log in checksummed chunks (resuming after a
// dropped connection from what the coordinator says it holds) and reports
// the outcome. It uses only the subjects and messages the protocol
// documents, on a connection that may hold nothing but the robot's own
// permissions.
package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
	"dreamrank/robots/fleet"
)

// Runner runs one assignment on the robot: it plays the episode and
// returns its result and log (a steps.zst file, foundation/episode/FORMAT.md). It
// calls progress as steps complete. ctx ends when the assignment is
// cancelled or its deadline passes.
type Runner interface {
	Run(ctx context.Context, a fleet.Assignment, progress func(step, maxSteps int)) (fleet.EpisodeResult, []byte, error)
}

// Config configures an agent.
type Config struct {
	// Robot is what the robot registers as (Version is filled in).
	Robot  fleet.Register
	Runner Runner
	// RequestTimeout bounds each request to the coordinator (default 2s).
	RequestTimeout time.Duration
	// ProgressEvery throttles progress reports (default 500ms).
	ProgressEvery time.Duration
	// OnAssign, when set, is called when an assignment is accepted (tests
	// and logs).
	OnAssign func(fleet.Assignment)
	Logger   *slog.Logger
}

// Agent is a running robot agent.
type Agent struct {
	cfg Config
	nc  *nats.Conn
	log *slog.Logger

	mu        sync.Mutex
	current   *job
	heartbeat time.Duration
}

type job struct {
	a        fleet.Assignment
	cancel   context.CancelFunc
	reported bool          // the outcome is being sent: do not abandon
	done     chan struct{} // closed when the job has ended
}

// Run runs the agent on nc until ctx ends.
func Run(ctx context.Context, nc *nats.Conn, cfg Config) error {
	cfg.Robot.Version = fleet.ProtocolVersion
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 2*time.Second)
	cfg.ProgressEvery = cmp.Or(cfg.ProgressEvery, 500*time.Millisecond)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	id := cfg.Robot.Robot
	if err := fleet.ValidRobotID(id); err != nil {
		return err
	}
	if cfg.Runner == nil {
		return errors.New("agent: no runner")
	}
	ag := &Agent{cfg: cfg, nc: nc, log: cfg.Logger.With("robot", id)}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	assign, err := nc.Subscribe(fleet.RobotSubject(id, fleet.VerbAssign), func(m *nats.Msg) { ag.onAssign(ctx, &wg, m) })
	if err != nil {
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	defer assign.Unsubscribe()
	cancelSub, err := nc.Subscribe(fleet.RobotSubject(id, fleet.VerbCancel), ag.onCancel)
	if err != nil {
		return fmt.Errorf("agent: subscribe: %w", err)
	}
	defer cancelSub.Unsubscribe()
	if err := ag.register(ctx); err != nil {
		return err
	}
	for {
		ag.mu.Lock()
		every := ag.heartbeat
		ag.mu.Unlock()
		select {
		case <-ctx.Done():
			ag.mu.Lock()
			if ag.current != nil {
				ag.current.cancel()
			}
			ag.mu.Unlock()
			return nil
		case <-time.After(every):
		}
		ag.beat(ctx)
	}
}

// request sends v to the robot's subject verb and decodes the reply into
// out; a transport failure wraps errcode.Unavailable.
func (ag *Agent) request(ctx context.Context, verb string, v, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, ag.cfg.RequestTimeout)
	defer cancel()
	msg, err := ag.nc.RequestWithContext(rctx, fleet.RobotSubject(ag.cfg.Robot.Robot, verb), raw)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("agent: %s: %w: %w", verb, errcode.Unavailable, err)
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("agent: %s reply: %w: %w", verb, fleet.ErrBadMessage, err)
	}
	return nil
}

// register registers, retrying while the coordinator is unreachable.
func (ag *Agent) register(ctx context.Context) error {
	for {
		var rep fleet.RegisterReply
		err := ag.request(ctx, fleet.VerbRegister, ag.cfg.Robot, &rep)
		if err == nil {
			err = fleet.ErrOf(rep.Error)
		}
		if err == nil {
			ag.mu.Lock()
			ag.heartbeat = max(time.Duration(rep.HeartbeatMS)*time.Millisecond, 10*time.Millisecond)
			ag.mu.Unlock()
			ag.log.Info("registered", "heartbeat", ag.heartbeat)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c := errcode.CodeOf(err); !c.Retryable() {
			return fmt.Errorf("agent: register: %w", err)
		}
		ag.log.Warn("register: retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// beat sends one heartbeat and acts on the reply.
func (ag *Agent) beat(ctx context.Context) {
	hb := fleet.Heartbeat{Robot: ag.cfg.Robot.Robot, State: fleet.StateIdle, Time: time.Now().UTC()}
	ag.mu.Lock()
	if j := ag.current; j != nil {
		hb.State, hb.Assignment = fleet.StateBusy, j.a.ID
	}
	ag.mu.Unlock()
	var rep fleet.HeartbeatReply
	err := ag.request(ctx, fleet.VerbHeartbeat, hb, &rep)
	if err == nil {
		err = fleet.ErrOf(rep.Error)
	}
	if err != nil {
		ag.log.Debug("heartbeat", "err", err)
		return
	}
	if !rep.Registered {
		ag.log.Info("coordinator does not know this robot: registering again")
		if hb.State == fleet.StateBusy {
			ag.abandon(hb.Assignment, "robot was declared offline")
		}
		_ = ag.register(ctx)
		return
	}
	if !rep.AssignmentOK {
		ag.abandon(hb.Assignment, "coordinator withdrew the assignment")
	}
}

// abandon stops assignment id unless its outcome is being reported.
func (ag *Agent) abandon(id, why string) {
	ag.mu.Lock()
	defer ag.mu.Unlock()
	if j := ag.current; j != nil && j.a.ID == id && !j.reported {
		ag.log.Warn("abandoning assignment", "assignment", id, "reason", why)
		j.cancel()
	}
}

func (ag *Agent) onCancel(m *nats.Msg) {
	var c fleet.Cancel
	if json.Unmarshal(m.Data, &c) == nil {
		ag.abandon(c.Assignment, c.Reason)
	}
}

func (ag *Agent) reply(m *nats.Msg, v any) {
	raw, _ := json.Marshal(v)
	_ = m.Respond(raw)
}

func (ag *Agent) onAssign(ctx context.Context, wg *sync.WaitGroup, m *nats.Msg) {
	a, err := fleet.ParseAssignment(m.Data)
	if err != nil {
		ag.reply(m, fleet.AssignReply{Error: fleet.ReplyError(err)})
		return
	}
	ag.mu.Lock()
	if j := ag.current; j != nil && j.reported && j.a.ID != a.ID {
		// The coordinator took the outcome and sent the next assignment
		// before the reply reached the job: let the job end first.
		ag.mu.Unlock()
		select {
		case <-j.done:
		case <-time.After(ag.cfg.RequestTimeout / 2):
		}
		ag.mu.Lock()
	}
	if j := ag.current; j != nil {
		ag.mu.Unlock()
		if j.a.ID == a.ID { // a repeated delivery
			ag.reply(m, fleet.AssignReply{Accepted: true})
			return
		}
		ag.reply(m, fleet.AssignReply{Error: fleet.ReplyError(fmt.Errorf("%w: running %s", fleet.ErrBusy, j.a.ID))})
		return
	}
	jctx, cancel := context.WithDeadline(ctx, a.Deadline)
	j := &job{a: a, cancel: cancel, done: make(chan struct{})}
	ag.current = j
	ag.mu.Unlock()
	ag.reply(m, fleet.AssignReply{Accepted: true})
	ag.log.Info("assignment accepted", "assignment", a.ID, "request", a.Request, "policy", a.Policy.Name(), "scenario", a.Scenario, "seed", a.Seed)
	if ag.cfg.OnAssign != nil {
		ag.cfg.OnAssign(a)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		ag.work(jctx, j)
		ag.mu.Lock()
		if ag.current == j {
			ag.current = nil
		}
		ag.mu.Unlock()
		close(j.done)
	}()
}

// work runs, uploads and reports one assignment.
func (ag *Agent) work(ctx context.Context, j *job) {
	a := j.a
	out := fleet.Outcome{Robot: ag.cfg.Robot.Robot, Assignment: a.ID, Started: time.Now().UTC()}
	var last time.Time
	progress := func(step, maxSteps int) {
		if now := time.Now(); now.Sub(last) >= ag.cfg.ProgressEvery {
			last = now
			raw, _ := json.Marshal(fleet.Progress{Robot: out.Robot, Assignment: a.ID, Step: step, MaxSteps: maxSteps, Time: now.UTC()})
			_ = ag.nc.Publish(fleet.RobotSubject(out.Robot, fleet.VerbProgress), raw)
		}
	}
	res, logData, err := ag.cfg.Runner.Run(ctx, a, progress)
	out.Finished = time.Now().UTC()
	if ctx.Err() != nil {
		ag.log.Warn("assignment stopped", "assignment", a.ID, "err", context.Cause(ctx))
		return
	}
	if err != nil {
		ag.log.Warn("episode failed", "assignment", a.ID, "err", err)
		out.Error = fleet.ReplyError(err)
	} else {
		out.EpisodeResult = res
		size := cmp.Or(a.ChunkSize, fleet.DefaultChunk)
		out.Log = &fleet.LogRef{Size: int64(len(logData)), Chunks: (len(logData) + size - 1) / size, SHA256: fleet.SHA256(logData)}
	}
	ag.mu.Lock()
	j.reported = true
	ag.mu.Unlock()
	for attempt := 0; ; attempt++ {
		if out.Log != nil {
			if err := ag.upload(ctx, a, *out.Log, logData); err != nil {
				ag.log.Warn("upload failed", "assignment", a.ID, "err", err)
				return
			}
		}
		var rep fleet.OutcomeReply
		err := ag.request(ctx, fleet.VerbOutcome, out, &rep)
		if err == nil {
			err = fleet.ErrOf(rep.Error)
		}
		if err == nil {
			ag.log.Info("outcome reported", "assignment", a.ID, "episode", rep.EpisodeID, "success", res.Success)
			return
		}
		if ctx.Err() != nil || !errcode.CodeOf(err).Retryable() {
			ag.log.Warn("outcome not taken", "assignment", a.ID, "err", err)
			return
		}
		ag.log.Info("outcome: retrying", "assignment", a.ID, "err", err)
		if !sleep(ctx, backoff(attempt)) {
			return
		}
	}
}

// upload sends the chunks the coordinator lacks until it holds all of
// them, asking it what it holds after every failure (so an upload resumes
// where it stopped after a dropped connection).
func (ag *Agent) upload(ctx context.Context, a fleet.Assignment, ref fleet.LogRef, data []byte) error {
	size := cmp.Or(a.ChunkSize, fleet.DefaultChunk)
	base := fleet.Upload{Robot: ag.cfg.Robot.Robot, Assignment: a.ID, Log: ref}
	for attempt := 0; ; attempt++ {
		err := func() error {
			st := base
			st.Op = fleet.UploadStatus
			var rep fleet.UploadReply
			if err := ag.request(ctx, fleet.VerbUpload, st, &rep); err != nil {
				return err
			}
			if err := fleet.ErrOf(rep.Error); err != nil {
				return err
			}
			have := make(map[int]bool, len(rep.Have))
			for _, i := range rep.Have {
				have[i] = true
			}
			for i := range ref.Chunks {
				if have[i] {
					continue
				}
				ch := base
				ch.Op, ch.Index = fleet.UploadChunk, i
				ch.Data = data[i*size : min((i+1)*size, len(data))]
				ch.ChunkSHA256 = fleet.SHA256(ch.Data)
				var crep fleet.UploadReply
				if err := ag.request(ctx, fleet.VerbUpload, ch, &crep); err != nil {
					return err
				}
				if err := fleet.ErrOf(crep.Error); err != nil {
					return err
				}
			}
			return nil
		}()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !errcode.CodeOf(err).Retryable() {
			return err
		}
		ag.log.Info("upload: resuming", "assignment", a.ID, "err", err)
		if !sleep(ctx, backoff(attempt)) {
			return ctx.Err()
		}
	}
}

func backoff(attempt int) time.Duration {
	return min(50*time.Millisecond<<min(attempt, 6), 2*time.Second)
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
