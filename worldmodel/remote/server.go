package remote

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/worldmodel"
)

// ServiceName is the NATS micro service name every world-model replica
// registers under (the model's name is in its metadata), so
// `nats micro ls` / $SRV.INFO.dreamrank-worldmodel lists them all.
const ServiceName = "dreamrank-worldmodel"

// ServeOptions tune a replica; zero values take the defaults.
type ServeOptions struct {
	// Prefix of the subjects; default DefaultPrefix.
	Prefix string
	// IdleTTL: a session unused this long is closed; default 5 minutes.
	IdleTTL time.Duration
	// MaxSessions open at once on this replica (more is quota_exceeded);
	// default 256.
	MaxSessions int
	// Concurrency: how many Start/Step calls run at once. Default 1, as
	// models need not be safe for concurrent use; raise it for models that
	// are.
	Concurrency int
	// MaxMessageBytes bounds one assembled request; default 256 MiB.
	MaxMessageBytes int
	// MaxPartBytes bounds one NATS message of a reply; default the
	// connection's max_payload less 4 KiB of headroom for headers.
	MaxPartBytes int
	// Version is the micro service version (semver); default "1.0.0".
	Version string
}

// kit fills this protocol's defaults and returns the kit's share.
func (o *ServeOptions) kit() service.ServeOptions {
	if o.IdleTTL <= 0 {
		o.IdleTTL = 5 * time.Minute
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = 256
	}
	// Unfinished parts live as long as an idle session.
	return service.ServeOptions{Prefix: cmp.Or(o.Prefix, DefaultPrefix), Concurrency: o.Concurrency,
		MaxMessageBytes: o.MaxMessageBytes, MaxPartBytes: o.MaxPartBytes, PartialTTL: o.IdleTTL, Version: o.Version}
}

// Server is one replica serving a model; replicas of one name share the
// info subject's queue group, and each owns the sessions it started.
type Server struct {
	kit   *service.Server
	name  string
	model worldmodel.Model
	spec  worldmodel.Spec
	opts  ServeOptions

	mu        sync.Mutex
	sessions  map[string]*session
	byRequest map[string]*session // live and closed sessions, for retried starts

	stats serverStats
}

type session struct {
	id, requestID string
	mu            sync.Mutex // held while the model works on the session
	rollout       worldmodel.Rollout
	batch         int
	err           error // Start failed
	closed        bool
	seq           uint64
	lastActions   []byte // the actions array of step seq, for retries
	lastReply     []byte // the reply of step seq
	used          atomic.Int64
}

type serverStats struct {
	starts, steps, retries, expired atomic.Int64
	stepNanos                       atomic.Int64
}

// Serve serves m under name until ctx is done or Stop is called. name must
// be a single subject token of [A-Za-z0-9_-].
func Serve(ctx context.Context, nc *nats.Conn, name string, m worldmodel.Model, opts ServeOptions) (*Server, error) {
	s := &Server{name: name, model: m, spec: m.Spec(), sessions: map[string]*session{}, byRequest: map[string]*session{}}
	kit, err := service.New(ctx, nc, service.Config{
		Service: ServiceName, Kind: "model", Name: name, Protocol: Protocol,
		Description: "dreamrank world model " + name, Options: opts.kit(),
		Stats: s.statsData, Sweep: s.sweep, Stopped: s.closeSessions,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	s.kit, s.opts = kit, opts
	info := infoReply{
		Protocol: Protocol, Model: name, Replica: kit.Replica(), Spec: s.spec,
		StartSubject:    kit.OwnSubject() + ".start",
		IdleTTLMillis:   opts.IdleTTL.Milliseconds(),
		MaxSessions:     opts.MaxSessions,
		MaxMessageBytes: kit.Options().MaxMessageBytes,
	}
	if d, ok := m.(worldmodel.Describer); ok {
		info.Describe = d.Describe()
	}
	if f, ok := m.(worldmodel.FLOPsCounter); ok {
		info.FLOPsPerStep = f.FLOPsPerStep()
	}
	pending := 2 * kit.Options().MaxMessageBytes
	err = kit.Serve(info,
		service.Endpoint{Name: "start", Own: true, Handle: s.start, PendingBytes: pending},
		service.Endpoint{Name: "step", Own: true, Handle: s.step, PendingBytes: pending},
		service.Endpoint{Name: "close", Own: true, Handle: s.close, PendingBytes: pending},
	)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return s, nil
}

// Replica is this replica's id (the micro service instance id).
func (s *Server) Replica() string { return s.kit.Replica() }

// Sessions is how many sessions are open on this replica.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Service is the underlying micro service (info, stats).
func (s *Server) Service() micro.Service { return s.kit.Service() }

// Stop stops serving: new requests are refused, in-flight ones are
// cancelled and answered, every session's rollout is closed. Idempotent.
func (s *Server) Stop() error { return s.kit.Stop() }

// closeSessions closes every session's rollout, once no request is in
// flight.
func (s *Server) closeSessions() {
	s.mu.Lock()
	live := s.sessions
	s.sessions = map[string]*session{}
	s.mu.Unlock()
	for _, sess := range live {
		sess.mu.Lock()
		s.release(sess)
		sess.mu.Unlock()
	}
}

// sweep expires idle sessions and closed sessions' tombstones.
func (s *Server) sweep(now time.Time) {
	cutoff := now.Add(-s.opts.IdleTTL).UnixNano()
	s.mu.Lock()
	var idle []*session
	for id, sess := range s.sessions {
		if sess.used.Load() < cutoff && sess.mu.TryLock() {
			delete(s.sessions, id)
			idle = append(idle, sess)
		}
	}
	for rid, sess := range s.byRequest {
		if _, live := s.sessions[sess.id]; !live && sess.used.Load() < cutoff {
			delete(s.byRequest, rid)
		}
	}
	s.mu.Unlock()
	for _, sess := range idle {
		s.release(sess)
		sess.mu.Unlock()
		s.stats.expired.Add(1)
	}
}

// release closes a session's rollout; sess.mu is held.
func (s *Server) release(sess *session) {
	if sess.closed {
		return
	}
	sess.closed = true
	if sess.rollout != nil {
		sess.rollout.Close()
	}
	sess.rollout, sess.lastReply, sess.lastActions = nil, nil, nil
}

func badRequest(format string, args ...any) error {
	return errcode.New(errcode.BadRequest, fmt.Sprintf(format, args...))
}

func (s *Server) start(ctx context.Context, body []byte) ([]byte, error) {
	var req startRequest
	blobs, err := envelope.Open(body, &req, func() []arrayHeader { return req.Arrays })
	if err != nil {
		return nil, badRequest("start: %v", err)
	}
	if req.RequestID == "" {
		req.RequestID = uuid.NewString()
	}
	total := 0
	for i, n := range req.ContextLens {
		if n < 1 {
			return nil, badRequest("start: episode %d has %d context observations", i, n)
		}
		total += n
	}
	if err := expect(req.Arrays, observationArrays(s.spec, total)...); err != nil {
		return nil, badRequest("start: %v (spec %+v, context_lens sum %d)", err, s.spec, total)
	}

	s.mu.Lock()
	if sess, ok := s.byRequest[req.RequestID]; ok {
		s.mu.Unlock()
		sess.mu.Lock() // wait for the first attempt to finish
		defer sess.mu.Unlock()
		if sess.err != nil {
			return nil, sess.err
		}
		s.stats.retries.Add(1)
		return s.startReply(sess)
	}
	if len(s.sessions) >= s.opts.MaxSessions {
		s.mu.Unlock()
		return nil, errcode.New(errcode.QuotaExceeded, fmt.Sprintf("replica %s has %d sessions open, its limit", s.kit.Replica(), s.opts.MaxSessions))
	}
	sess := &session{id: uuid.NewString(), requestID: req.RequestID, batch: len(req.ContextLens)}
	sess.used.Store(time.Now().UnixNano())
	sess.mu.Lock()
	defer sess.mu.Unlock()
	s.sessions[sess.id] = sess
	s.byRequest[req.RequestID] = sess
	s.mu.Unlock()

	obs := readObservations(s.spec, total, blobs[0], blobs[1])
	contexts := make([][]worldmodel.Observation, len(req.ContextLens))
	for i, n := range req.ContextLens {
		contexts[i], obs = obs[:n:n], obs[n:]
	}
	ctx, cancel := service.WithDeadline(ctx, req.DeadlineMillis)
	defer cancel()
	err = s.kit.Work(ctx, func() error {
		r, err := s.model.Start(ctx, contexts)
		sess.rollout = r
		return err
	})
	if err == nil && sess.rollout == nil {
		err = errcode.New(errcode.Internal, "model returned neither a rollout nor an error")
	}
	if err != nil {
		sess.err, sess.closed = err, true
		s.mu.Lock()
		delete(s.sessions, sess.id)
		delete(s.byRequest, req.RequestID) // a retry tries afresh
		s.mu.Unlock()
		return nil, err
	}
	s.stats.starts.Add(1)
	sess.used.Store(time.Now().UnixNano())
	return s.startReply(sess)
}

func (s *Server) startReply(sess *session) ([]byte, error) {
	return json.Marshal(startReply{
		Session: sess.id, Batch: sess.batch,
		StepSubject: s.kit.OwnSubject() + ".step", CloseSubject: s.kit.OwnSubject() + ".close",
		IdleTTLMillis: s.opts.IdleTTL.Milliseconds(),
	})
}

func (s *Server) expiredError(id string) error {
	return errcode.New(errcode.SessionExpired, fmt.Sprintf("no open session %q on replica %s (closed, idle for more than %s, or never started here)", id, s.kit.Replica(), s.opts.IdleTTL))
}

func (s *Server) step(ctx context.Context, body []byte) ([]byte, error) {
	var req stepRequest
	blobs, err := envelope.Open(body, &req, func() []arrayHeader { return req.Arrays })
	if err != nil {
		return nil, badRequest("step: %v", err)
	}
	if err := expect(req.Arrays, arrayHeader{Name: "actions", DType: dtypeFloat32, Shape: []int{-1, -1, -1}}); err != nil {
		return nil, badRequest("step: %v", err)
	}
	s.mu.Lock()
	sess := s.sessions[req.Session]
	s.mu.Unlock()
	if sess == nil {
		return nil, s.expiredError(req.Session)
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	defer func() { sess.used.Store(time.Now().UnixNano()) }()
	if sess.closed {
		return nil, s.expiredError(req.Session)
	}
	switch {
	case req.Seq == sess.seq+1:
	case req.Seq == sess.seq && req.Seq > 0:
		if !slices.Equal(blobs[0], sess.lastActions) {
			return nil, errcode.New(errcode.Conflict, fmt.Sprintf("step seq %d retried with different actions", req.Seq))
		}
		s.stats.retries.Add(1)
		return sess.lastReply, nil
	default:
		return nil, errcode.New(errcode.Conflict, fmt.Sprintf("step seq %d, but session %s is at seq %d (want %d, or %d to retry)", req.Seq, sess.id, sess.seq, sess.seq+1, sess.seq))
	}
	shape := req.Arrays[0].Shape
	batch, chunk := shape[0], shape[1]
	actions := readActions(blobs[0], batch, chunk, shape[2])

	ctx, cancel := service.WithDeadline(ctx, req.DeadlineMillis)
	defer cancel()
	t0 := time.Now()
	var pred [][]worldmodel.Observation
	err = s.kit.Work(ctx, func() error {
		pred, err = sess.rollout.Step(ctx, actions)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.stats.stepNanos.Add(int64(time.Since(t0)))
	// Flatten, checking that the model kept its spec.
	flat := make([]worldmodel.Observation, 0, batch*chunk)
	if len(pred) != batch {
		return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted %d episodes, want %d", len(pred), batch))
	}
	for i, ep := range pred {
		if len(ep) != chunk {
			return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted %d steps for episode %d, want %d", len(ep), i, chunk))
		}
		for k, o := range ep {
			if len(o.Frame) != s.spec.FrameLen() || len(o.Proprio) != s.spec.ProprioDim {
				return nil, errcode.New(errcode.Internal, fmt.Sprintf("model predicted episode %d step %d with a %d-byte frame and %d proprio values, off its spec", i, k, len(o.Frame), len(o.Proprio)))
			}
		}
		flat = append(flat, ep...)
	}
	meta := stepReply{Session: sess.id, Seq: req.Seq, Arrays: observationArrays(s.spec, batch, chunk)}
	out, err := envelope.Seal(meta, observationsBytes(s.spec, len(flat)))
	if err != nil {
		return nil, err
	}
	out = appendObservations(out, flat)
	sess.seq = req.Seq
	sess.lastActions = slices.Clone(blobs[0])
	sess.lastReply = out
	s.stats.steps.Add(1)
	return out, nil
}

func (s *Server) close(_ context.Context, body []byte) ([]byte, error) {
	var req closeRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, badRequest("close: %v", err)
	}
	s.mu.Lock()
	sess := s.sessions[req.Session]
	delete(s.sessions, req.Session)
	s.mu.Unlock()
	if sess != nil {
		sess.mu.Lock() // after any step in flight
		s.release(sess)
		sess.used.Store(time.Now().UnixNano()) // the tombstone lives one TTL
		sess.mu.Unlock()
	}
	return json.Marshal(closeReply{Closed: true})
}

func (s *Server) statsData() map[string]any {
	return map[string]any{
		"model":          s.name,
		"sessions":       s.Sessions(),
		"starts":         s.stats.starts.Load(),
		"steps":          s.stats.steps.Load(),
		"retries":        s.stats.retries.Load(),
		"expired":        s.stats.expired.Load(),
		"step_seconds":   time.Duration(s.stats.stepNanos.Load()).Seconds(),
		"flops_per_step": s.flops(),
	}
}

func (s *Server) flops() float64 {
	if f, ok := s.model.(worldmodel.FLOPsCounter); ok {
		return f.FLOPsPerStep()
	}
	return 0
}
