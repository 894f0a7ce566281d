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

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/policy"
)

// ServiceName is the NATS micro service every policy replica registers
// under (the policy's name is in its metadata), so `nats micro ls` lists
// them all.
const ServiceName = "dreamrank-policy"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ServeOptions tune a replica; zero values take the defaults.
type ServeOptions struct {
	// Prefix of the subjects; default DefaultPrefix.
	Prefix string
	// Concurrency: how many Act calls run at once. Default 1; policies are
	// batched, so one call at a time usually uses the machine best.
	Concurrency int
	// MaxMessageBytes bounds one request; default the connection's
	// max_payload (a request is one NATS message: clients split batches).
	MaxMessageBytes int
	// Version is the micro service version (semver); default "1.0.0".
	Version string
}

// Server is one replica serving a policy. Policies are stateless, so every
// replica of a name answers any request: both subjects share the queue
// group.
type Server struct {
	nc     *nats.Conn
	name   string
	p      policy.Policy
	opts   ServeOptions
	svc    micro.Service
	info   []byte
	base   context.Context
	cancel context.CancelFunc
	sem    chan struct{}
	flight envelope.Inflight

	acts, errs, obs atomic.Int64
	actNanos        atomic.Int64
}

// Serve serves p under name until ctx is done or Stop is called. name must
// be a single subject token of [A-Za-z0-9_-].
func Serve(ctx context.Context, nc *nats.Conn, name string, p policy.Policy, opts ServeOptions) (*Server, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("remote: policy name %q: want [A-Za-z0-9_-]+: %w", name, errcode.BadRequest)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 1
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = int(nc.MaxPayload())
	}
	if opts.Version == "" {
		opts.Version = "1.0.0"
	}
	s := &Server{nc: nc, name: name, p: p, opts: opts, sem: make(chan struct{}, opts.Concurrency)}
	s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	svc, err := micro.AddService(nc, micro.Config{
		Name:        ServiceName,
		Version:     opts.Version,
		Description: "dreamrank policy " + name,
		Metadata:    map[string]string{"policy": name, "protocol": fmt.Sprint(Protocol)},
		StatsHandler: func(*micro.Endpoint) any {
			return map[string]any{"acts": s.acts.Load(), "errors": s.errs.Load(),
				"observations": s.obs.Load(), "act_seconds": float64(s.actNanos.Load()) / 1e9}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("remote: serve %s: %w", name, err)
	}
	s.svc = svc
	subj := opts.Prefix + "." + name
	info := infoReply{Protocol: Protocol, Policy: name, Replica: svc.Info().ID, Spec: p.Spec(),
		ActSubject: subj + ".act", MaxMessageBytes: opts.MaxMessageBytes}
	if d, ok := p.(policy.Describer); ok {
		info.Describe = d.Describe()
	}
	if s.info, err = json.Marshal(info); err != nil {
		svc.Stop()
		return nil, err
	}
	g := svc.AddGroup(subj) // queue group "q": replicas share both subjects
	if err := g.AddEndpoint("info", micro.HandlerFunc(s.handleInfo)); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote: serve %s: %w", name, err)
	}
	if err := g.AddEndpoint("act", micro.HandlerFunc(s.handleAct), micro.WithEndpointPendingLimits(-1, 4*opts.MaxMessageBytes)); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote: serve %s: %w", name, err)
	}
	// Have the NATS server know the subscriptions before callers are told
	// the policy is served.
	if err := nc.FlushTimeout(10 * time.Second); err != nil {
		svc.Stop()
		return nil, fmt.Errorf("remote: serve %s: %w", name, err)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.base.Done():
		}
	}()
	return s, nil
}

// Service is the underlying micro service (info, stats).
func (s *Server) Service() micro.Service { return s.svc }

// Stop stops serving: new requests are refused, in-flight ones are
// cancelled and answered. Idempotent.
func (s *Server) Stop() error {
	if !s.flight.Stop() {
		s.flight.Wait()
		return nil
	}
	err := s.svc.Stop()
	s.cancel()
	s.flight.Wait()
	return err
}

func (s *Server) handleInfo(req micro.Request) {
	if err := req.Respond(s.info); err != nil {
		s.errs.Add(1)
	}
}

// handleAct runs each request on its own goroutine (bounded by the
// semaphore) so that info keeps answering while a batch is computed.
func (s *Server) handleAct(req micro.Request) {
	reply := req.Reply()
	if reply == "" {
		return // not a request; nothing to answer
	}
	body := req.Data()
	started := s.flight.Go(func() {
		out, err := envelope.Guard(func() ([]byte, error) { return s.act(body) })
		if err != nil {
			s.respondError(reply, err)
			return
		}
		if err := s.nc.Publish(reply, out); err != nil {
			s.errs.Add(1)
		}
	})
	if !started {
		s.respondError(reply, errcode.New(errcode.Unavailable, "policy replica is stopping"))
	}
}

func (s *Server) act(body []byte) ([]byte, error) {
	if len(body) > s.opts.MaxMessageBytes {
		return nil, errcode.New(errcode.TooLarge, fmt.Sprintf("request of %d bytes exceeds %d", len(body), s.opts.MaxMessageBytes))
	}
	req, obs, steer, err := decodeAct(body)
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
		return nil, fmt.Errorf("waiting for a free slot: %w", context.Cause(ctx))
	}
	spec := s.p.Spec()
	if err := spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	t0 := time.Now()
	chunks, err := s.p.Act(ctx, obs, steer)
	el := time.Since(t0)
	s.acts.Add(1)
	s.obs.Add(int64(len(obs)))
	s.actNanos.Add(int64(el))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (policy: %v)", context.Cause(ctx), err)
		}
		return nil, err
	}
	if err := spec.ValidateChunks(chunks, len(obs)); err != nil {
		return nil, errcode.New(errcode.Internal, "the policy's output is off its spec: "+err.Error())
	}
	out, err := encodeReply(chunks, float64(el)/float64(time.Millisecond))
	if err != nil {
		return nil, errcode.New(errcode.Internal, "the policy's chunks are ragged: "+err.Error())
	}
	return out, nil
}

func (s *Server) respondError(reply string, err error) {
	s.errs.Add(1)
	e := errcode.FromError(err)
	if e.Code == errcode.Internal {
		slog.Warn("policy replica: internal error", "policy", s.name, "err", oneLine(err.Error()))
	}
	body, _ := json.Marshal(e)
	msg := &nats.Msg{Subject: reply, Data: body, Header: nats.Header{
		HeaderError:     []string{oneLine(e.Error())},
		HeaderErrorCode: []string{string(e.Code)},
	}}
	if err := s.nc.PublishMsg(msg); err != nil {
		slog.Warn("policy replica: reply failed", "policy", s.name, "err", err)
	}
}

// oneLine keeps header values to one line (tracebacks travel in the body).
func oneLine(s string) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			return s[:i]
		}
	}
	return s
}
