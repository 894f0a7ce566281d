package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/scenarios"
)

// Config configures a Coordinator. Zero values take the defaults.
type Config struct {
	// Replicas of the streams and buckets (1 on one server).
	Replicas int
	// HeartbeatEvery is how often robots heartbeat (default 1s); a robot
	// silent for MissedHeartbeats of them (default 3) is offline and its
	// assignment goes to another robot.
	HeartbeatEvery   time.Duration
	MissedHeartbeats int
	// EpisodeTimeout bounds an assignment from dispatch to stored outcome
	// (default 10m); past it the episode is reassigned.
	EpisodeTimeout time.Duration
	// AssignTimeout is how long a robot has to accept (default 2s).
	AssignTimeout time.Duration
	// MaxAttempts is how many assignments a request gets before its result
	// records the last error (default 3).
	MaxAttempts int
	// ChunkSize is the upload chunk size robots are told (default
	// DefaultChunk).
	ChunkSize int
	// Episodes, when set, receives every uploaded episode with its
	// provenance (episode id = assignment id).
	Episodes *episode.Store
	// AckWait of the request consumer (default 1m); held requests are kept
	// alive at a third of it, so a crashed coordinator's requests are
	// redelivered to the next one.
	AckWait time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

func (c *Config) defaults() {
	c.Replicas = max(c.Replicas, 1)
	c.HeartbeatEvery = cmp.Or(c.HeartbeatEvery, time.Second)
	c.MissedHeartbeats = cmp.Or(c.MissedHeartbeats, 3)
	c.EpisodeTimeout = cmp.Or(c.EpisodeTimeout, 10*time.Minute)
	c.AssignTimeout = cmp.Or(c.AssignTimeout, 2*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 3)
	c.ChunkSize = cmp.Or(c.ChunkSize, DefaultChunk)
	c.AckWait = cmp.Or(c.AckWait, time.Minute)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

type robot struct {
	info       Register
	state      string
	lastSeen   time.Time
	idleSince  time.Time
	assignment *assignment
	progress   Progress
	done       int
}

type pending struct {
	req      EpisodeRequest
	msg      jetstream.Msg
	attempts int
	lastErr  error
	current  *assignment
}

type assignment struct {
	a       Assignment
	p       *pending
	robot   string
	started time.Time
	log     *LogRef
}

// Coordinator schedules requested episodes on the fleet's robots.
type Coordinator struct {
	cfg     Config
	nc      *nats.Conn
	js      jetstream.JetStream
	uploads jetstream.Stream
	results jetstream.KeyValue
	logs    jetstream.ObjectStore
	cc      jetstream.ConsumeContext
	subs    []*nats.Subscription
	log     *slog.Logger
	// Client requests episodes and reads results (Request, Results,
	// Wait) on the coordinator's connection.
	*Client

	mu          sync.Mutex
	robots      map[string]*robot
	queue       map[string][]*pending // by group
	groups      []string              // round-robin order
	rr          int
	byRequest   map[string]*pending
	assignments map[string]*assignment
	finished    []time.Time // completion times (last minute), for throughput
	done        int
	started     time.Time
	lastKeep    time.Time

	kick    chan struct{}
	stop    context.CancelFunc
	runCtx  context.Context
	wg      sync.WaitGroup
	stopped sync.Once
}

// Start creates the fleet's JetStream resources and starts coordinating on
// nc. Stop ends it; queued requests stay in JetStream.
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (*Coordinator, error) {
	cfg.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	reqs, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: RequestStream, Subjects: []string{RequestPrefix + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: DupWindow, MaxMsgSize: MaxMessage,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: request stream: %w", err)
	}
	uploads, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: UploadStream, Subjects: []string{UploadPrefix + ".>"}, Storage: jetstream.FileStorage,
		Replicas: cfg.Replicas, Duplicates: DupWindow, MaxMsgsPerSubject: 1, MaxMsgSize: MaxChunk + 4096,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: upload stream: %w", err)
	}
	results, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: ResultBucket, Storage: jetstream.FileStorage, Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: result bucket: %w", err)
	}
	logs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: LogBucket, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: log store: %w", err)
	}
	cons, err := reqs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: CoordinatorConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
		MaxDeliver: -1, MaxAckPending: 100_000, Replicas: cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: request consumer: %w", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	c := &Coordinator{cfg: cfg, nc: nc, js: js, uploads: uploads, results: results, logs: logs,
		log: cfg.Logger, Client: &Client{js: js}, robots: map[string]*robot{}, queue: map[string][]*pending{},
		byRequest: map[string]*pending{}, assignments: map[string]*assignment{}, started: cfg.Now(),
		kick: make(chan struct{}, 1), stop: stop, runCtx: runCtx}
	handlers := map[string]nats.MsgHandler{
		VerbRegister: c.onRegister, VerbHeartbeat: c.onHeartbeat, VerbProgress: c.onProgress,
		VerbOutcome: c.onOutcome, VerbUpload: c.onUpload,
	}
	for _, verb := range RobotVerbs {
		sub, err := nc.Subscribe(robotWildcard(verb), handlers[verb])
		if err != nil {
			c.Stop()
			return nil, fmt.Errorf("fleet: subscribe %s: %w", verb, err)
		}
		c.subs = append(c.subs, sub)
	}
	sub, err := nc.Subscribe(StatusSubject, c.onStatus)
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("fleet: subscribe status: %w", err)
	}
	c.subs = append(c.subs, sub)
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		c.Stop()
		return nil, fmt.Errorf("fleet: %w", err)
	}
	if c.cc, err = cons.Consume(c.onRequest); err != nil {
		c.Stop()
		return nil, fmt.Errorf("fleet: consume requests: %w", err)
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.loop(runCtx) }()
	c.log.Info("fleet coordinator started", "heartbeat", cfg.HeartbeatEvery, "episode_timeout", cfg.EpisodeTimeout)
	return c, nil
}

// Stop stops coordinating and waits for the background work. Unfinished
// requests are redelivered to the next coordinator.
func (c *Coordinator) Stop() {
	c.stopped.Do(func() {
		if c.cc != nil {
			c.cc.Stop()
		}
		for _, s := range c.subs {
			_ = s.Unsubscribe()
		}
		c.stop()
		c.wg.Wait()
		// Hand the requests not yet answered to the next coordinator now
		// rather than after the ack wait.
		c.mu.Lock()
		held := make([]jetstream.Msg, 0, len(c.byRequest))
		for _, p := range c.byRequest {
			held = append(held, p.msg)
		}
		c.byRequest = map[string]*pending{}
		c.mu.Unlock()
		for _, m := range held {
			_ = m.Nak()
		}
	})
}

func (c *Coordinator) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Coordinator) loop(ctx context.Context) {
	every := min(c.cfg.HeartbeatEvery/2, 500*time.Millisecond)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.sweep(ctx)
		case <-c.kick:
		}
		c.schedule(ctx)
	}
}

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
	if p := c.byRequest[r.ID]; p != nil {
		p.msg = msg // a redelivery of a request we hold
		return
	}
	p := &pending{req: r, msg: msg}
	c.byRequest[r.ID] = p
	c.enqueue(p, false)
	c.poke()
}

// enqueue puts p in its group's queue (at the front for a retry). Callers
// hold mu.
func (c *Coordinator) enqueue(p *pending, front bool) {
	g := p.req.Group
	if _, ok := c.queue[g]; !ok {
		c.groups = append(c.groups, g)
	}
	if front {
		c.queue[g] = append([]*pending{p}, c.queue[g]...)
	} else {
		c.queue[g] = append(c.queue[g], p)
	}
}

func capable(r *robot, req EpisodeRequest) bool {
	return slices.Contains(r.info.Scenes, req.Scenario) && slices.Contains(r.info.PolicyBackends, req.Policy().Backend())
}

// take removes and returns the next request robot r can run, groups taking
// turns. Callers hold mu.
func (c *Coordinator) take(r *robot) *pending {
	for k := range len(c.groups) {
		gi := (c.rr + k) % len(c.groups)
		g := c.groups[gi]
		q := c.queue[g]
		for i, p := range q {
			if !capable(r, p.req) {
				continue
			}
			c.queue[g] = slices.Delete(q, i, i+1)
			c.rr = gi + 1
			if len(c.queue[g]) == 0 {
				delete(c.queue, g)
				c.groups = slices.Delete(c.groups, gi, gi+1)
				c.rr = gi
			}
			if len(c.groups) > 0 {
				c.rr %= len(c.groups)
			} else {
				c.rr = 0
			}
			return p
		}
	}
	return nil
}

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

func (c *Coordinator) respond(msg *nats.Msg, v any) {
	if msg.Reply == "" {
		return
	}
	raw, _ := json.Marshal(v)
	_ = msg.Respond(raw)
}

func (c *Coordinator) onRegister(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseRegister(id, msg.Data)
	if err != nil {
		c.respond(msg, RegisterReply{Error: ReplyError(err)})
		return
	}
	now := c.cfg.Now()
	c.mu.Lock()
	r := c.robots[id]
	if r == nil {
		r = &robot{}
		c.robots[id] = r
	}
	if as := r.assignment; as != nil { // it restarted: whatever it ran is gone
		c.retire(as, fmt.Errorf("%w: robot %s restarted", errcode.Unavailable, id), false)
	}
	r.info, r.state, r.lastSeen, r.idleSince = m, StateIdle, now, now
	c.mu.Unlock()
	c.log.Info("fleet: robot registered", "robot", id, "embodiment", m.Embodiment, "scenes", m.Scenes)
	c.respond(msg, RegisterReply{HeartbeatMS: c.cfg.HeartbeatEvery.Milliseconds()})
	c.poke()
}

func (c *Coordinator) onHeartbeat(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseHeartbeat(id, msg.Data)
	if err != nil {
		c.respond(msg, HeartbeatReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	r := c.robots[id]
	rep := HeartbeatReply{}
	if r != nil && r.state != StateOffline {
		rep.Registered = true
		r.lastSeen = c.cfg.Now()
		rep.AssignmentOK = m.State != StateBusy || m.Assignment == "" || (r.assignment != nil && r.assignment.a.ID == m.Assignment)
		if m.State == StateIdle && r.state == StateBusy && r.assignment == nil {
			r.state, r.idleSince = StateIdle, r.lastSeen
			defer c.poke()
		}
	}
	c.mu.Unlock()
	c.respond(msg, rep)
}

func (c *Coordinator) onProgress(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseProgress(id, msg.Data)
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.robots[id]; r != nil && r.assignment != nil && r.assignment.a.ID == m.Assignment {
		r.progress, r.lastSeen = m, c.cfg.Now()
	}
}

// held returns assignment a if robot id holds it now. Callers hold mu.
func (c *Coordinator) held(id, a string) *assignment {
	as := c.assignments[a]
	if as == nil || as.robot != id || as.p.current != as {
		return nil
	}
	return as
}

func (c *Coordinator) onUpload(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseUpload(id, msg.Data)
	if err != nil {
		c.respond(msg, UploadReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	as := c.held(id, m.Assignment)
	switch {
	case as == nil:
		err = fmt.Errorf("%w: %s", ErrNotYours, m.Assignment)
	case as.log == nil:
		l := m.Log
		as.log = &l
	case *as.log != m.Log:
		err = badf("log of assignment %s changed from %+v to %+v", m.Assignment, *as.log, m.Log)
	}
	if r := c.robots[id]; r != nil && err == nil {
		r.lastSeen = c.cfg.Now()
	}
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

func (c *Coordinator) onOutcome(msg *nats.Msg) {
	id, _ := RobotOfSubject(msg.Subject)
	m, err := ParseOutcome(id, msg.Data)
	if err != nil {
		c.respond(msg, OutcomeReply{Error: ReplyError(err)})
		return
	}
	c.mu.Lock()
	as := c.held(id, m.Assignment)
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
			if c.held(id, m.Assignment) == as {
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
	if as := c.assignments[a]; as != nil {
		req = as.p.req.ID
	}
	c.mu.Unlock()
	if req == "" {
		// Look the assignment up among recorded results via its log.
		if info, err := c.logs.GetInfo(c.runCtx, a); err == nil {
			req = info.Headers.Get("Dreamrank-Request")
		}
	}
	if req != "" {
		if r, ok, err := c.Client.Result(c.runCtx, req); err == nil && ok && r.Assignment == a && r.Robot == id {
			return OutcomeReply{EpisodeID: r.EpisodeID}
		}
	}
	return OutcomeReply{Error: ReplyError(fmt.Errorf("%w: %s", ErrNotYours, a))}
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
	res := c.resultOf(as.p, as)
	res.EpisodeResult, res.EpisodeID, res.Started, res.Finished = m.EpisodeResult, a, m.Started, m.Finished
	if err := c.record(ctx, as.p, res); err != nil {
		return "", err
	}
	_ = c.uploads.Purge(ctx, jetstream.WithPurgeSubject(UploadPrefix+"."+a+".>"))
	c.mu.Lock()
	delete(c.assignments, a)
	if r := c.robots[as.robot]; r != nil {
		r.done++
		if r.assignment == as {
			r.assignment, r.state, r.idleSince = nil, StateIdle, c.cfg.Now()
		}
	}
	c.mu.Unlock()
	c.log.Info("fleet: episode stored", "request", as.p.req.ID, "robot", as.robot, "episode", a, "success", m.Success, "steps", m.Steps)
	return a, nil
}

func (c *Coordinator) resultOf(p *pending, as *assignment) Result {
	return Result{Request: p.req.ID, Group: p.req.Group, Policy: p.req.Policy().Name(), Scenario: p.req.Scenario,
		Seed: p.req.Seed, Robot: as.robot, Assignment: as.a.ID, Attempts: p.attempts}
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
	if c.byRequest[p.req.ID] == p {
		delete(c.byRequest, p.req.ID)
	}
	p.current = nil
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
	if r := c.robots[as.robot]; r != nil {
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
