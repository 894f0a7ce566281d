package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
)

// ServiceName is the NATS micro service name every judge replica registers
// under (the judge's name is in its metadata).
const ServiceName = "dreamrank-judge"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ServeOptions tune a replica; zero values take the defaults.
type ServeOptions struct {
	// Prefix of the subjects; default DefaultPrefix.
	Prefix string
	// Concurrency: how many requests the judge works on at once; default 1.
	Concurrency int
	// MaxMessageBytes bounds one assembled request; default 256 MiB.
	MaxMessageBytes int
	// MaxPartBytes bounds one NATS message of a reply; default the
	// connection's max_payload less 4 KiB.
	MaxPartBytes int
	// PartialTTL drops a request whose parts stop arriving; default 1 min.
	PartialTTL time.Duration
	// Describe is announced in the info reply (judge version, model, ...).
	Describe map[string]string
}

func (o *ServeOptions) defaults(nc *nats.Conn) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 256 << 20
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = max(int(nc.MaxPayload())-partHeadroom, 1024)
	}
	if o.PartialTTL <= 0 {
		o.PartialTTL = time.Minute
	}
}

// Server is one replica serving a judge.
type Server struct {
	nc      *nats.Conn
	name    string
	j       judge.Judge
	opts    ServeOptions
	svc     micro.Service
	replica string
	info    []byte

	base   context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	flight envelope.Inflight

	partials envelope.Partials // multi-part requests by reply subject

	requests, episodes, errors atomic.Int64
}

// Serve serves j under name until ctx is done or Stop is called. name must
// be a single subject token of [A-Za-z0-9_-].
func Serve(ctx context.Context, nc *nats.Conn, name string, j judge.Judge, opts ServeOptions) (*Server, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("remote judge: name %q: want [A-Za-z0-9_-]+: %w", name, judge.ErrBadInput)
	}
	opts.defaults(nc)
	s := &Server{nc: nc, name: name, j: j, opts: opts, sem: make(chan struct{}, opts.Concurrency)}
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     "1.0.0",
		Description: "dreamrank judge " + name,
		Metadata:    map[string]string{"judge": name, "protocol": fmt.Sprint(Protocol)},
		StatsHandler: func(*micro.Endpoint) any {
			return map[string]int64{"requests": s.requests.Load(), "episodes": s.episodes.Load(), "errors": s.errors.Load()}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("remote judge: serve %s: %w", name, err)
	}
	s.svc, s.replica = svc, svc.Info().ID
	subj := opts.Prefix + "." + name
	own := subj + ".r." + s.replica
	if s.info, err = json.Marshal(infoReply{
		Protocol: Protocol, Judge: name, Replica: s.replica, Describe: opts.Describe,
		JudgeSubject: own + ".judge", MaxMessageBytes: opts.MaxMessageBytes,
	}); err != nil {
		svc.Stop()
		return nil, err
	}
	if err := svc.AddGroup(subj).AddEndpoint("info", micro.HandlerFunc(s.handleInfo)); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote judge: serve %s: %w", name, err)
	}
	// Parts of one request must reach one replica, so requests go to the
	// replica's own subject, which the info reply names.
	if err := svc.AddGroup(own, micro.WithGroupQueueGroupDisabled()).AddEndpoint("judge", micro.HandlerFunc(s.handleJudge),
		// Room for two whole requests, and never less than a few parts, so
		// an oversized request is read and refused rather than dropped.
		micro.WithEndpointPendingLimits(-1, max(2*opts.MaxMessageBytes, 64<<20))); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote judge: serve %s: %w", name, err)
	}
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote judge: serve %s: %w", name, err)
	}
	go s.janitor(ctx)
	return s, nil
}

// Replica is this replica's id.
func (s *Server) Replica() string { return s.replica }

// Stop stops serving; requests in flight are cancelled and answered.
// Idempotent.
func (s *Server) Stop() error {
	if !s.flight.Stop() {
		return nil
	}
	err := s.svc.Stop()
	s.cancel()
	s.flight.Wait()
	return err
}

func (s *Server) janitor(ctx context.Context) {
	tick := time.NewTicker(min(s.opts.PartialTTL/4, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.Stop()
			return
		case <-s.base.Done():
			return
		case now := <-tick.C:
			s.partials.Expire(now.Add(-s.opts.PartialTTL))
		}
	}
}

func (s *Server) handleInfo(req micro.Request) {
	if err := req.Respond(s.info); err != nil {
		s.errors.Add(1)
	}
}

// handleJudge assembles a request's parts on the subscription's goroutine,
// then judges on its own goroutine, bounded by Concurrency.
func (s *Server) handleJudge(req micro.Request) {
	reply := req.Reply()
	if reply == "" {
		return
	}
	body, complete, err := s.assemble(reply, req.Headers().Get(HeaderPart), req.Data())
	if err != nil {
		s.respondError(reply, err)
		return
	}
	if !complete {
		return
	}
	started := s.flight.Go(func() {
		out, err := envelope.Guard(func() ([]byte, error) { return s.judge(body) })
		if err != nil {
			s.respondError(reply, err)
			return
		}
		s.respond(reply, out)
	})
	if !started {
		s.respondError(reply, errcode.New(errcode.Unavailable, "replica "+s.replica+" is stopping"))
	}
}

func (s *Server) judge(body []byte) ([]byte, error) {
	req, eps, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	ctx := s.base
	if req.DeadlineMillis > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.DeadlineMillis)*time.Millisecond)
		defer cancel()
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.requests.Add(1)
	s.episodes.Add(int64(len(eps)))
	vs, err := s.j.Judge(ctx, eps)
	if err != nil {
		return nil, err
	}
	if err := checkVerdicts(vs, eps); err != nil {
		return nil, errcode.New(errcode.Internal, "the judge answered "+err.Error())
	}
	return json.Marshal(judgeReply{RequestID: req.RequestID, Verdicts: vs})
}

func (s *Server) assemble(reply, partHdr string, data []byte) ([]byte, bool, error) {
	return s.partials.Add(reply, partHdr, data, s.opts.MaxMessageBytes)
}

func (s *Server) respond(reply string, msg []byte) {
	if err := envelope.Reply(s.nc, reply, msg, s.opts.MaxPartBytes); err != nil {
		s.errors.Add(1)
	}
}

func (s *Server) respondError(reply string, err error) {
	s.errors.Add(1)
	if errcode.CodeOf(err) == errcode.Internal {
		slog.Warn("judge request failed", "judge", s.name, "err", err)
	}
	s.nc.PublishMsg(envelope.ErrorReply(reply, err))
}
