package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// CheckName accepts the name of a served object: one subject token of
// [A-Za-z0-9_-]. Anything else is bad_request.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return errcode.New(errcode.BadRequest, fmt.Sprintf("name %q: want [A-Za-z0-9_-]+", name))
	}
	return nil
}

// ServeOptions tune a replica; zero values take the defaults.
type ServeOptions struct {
	// Prefix of the subjects; required (each protocol has its default).
	Prefix string
	// Concurrency bounds the handlers working at once (Work); default 1.
	Concurrency int
	// MaxMessageBytes bounds one assembled request; default 256 MiB, or
	// the connection's max_payload when Whole.
	MaxMessageBytes int
	// MaxPartBytes bounds one NATS message of a reply; default the
	// connection's max_payload less envelope.PartHeadroom.
	MaxPartBytes int
	// Whole: the protocol has no parts; a request and its reply are one
	// NATS message each.
	Whole bool
	// PartialTTL drops a request whose parts stop arriving; default 1 min.
	PartialTTL time.Duration
	// Version is the micro service version (semver); default "1.0.0".
	Version string
}

func (o *ServeOptions) defaults(nc *nats.Conn) {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 256 << 20
		if o.Whole {
			o.MaxMessageBytes = int(nc.MaxPayload())
		}
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = max(int(nc.MaxPayload())-envelope.PartHeadroom, 1024)
	}
	if o.Whole {
		o.MaxPartBytes = math.MaxInt // never split a reply
	}
	if o.PartialTTL <= 0 {
		o.PartialTTL = time.Minute
	}
	if o.Version == "" {
		o.Version = "1.0.0"
	}
}

// Config describes a replica.
type Config struct {
	// Service is the micro service name all replicas of the protocol share
	// ("dreamrank-policy"); Kind is the metadata key of the served name
	// ("policy"), Name the name, Protocol the protocol's version.
	Service, Kind, Name string
	Protocol            int
	Description         string
	Options             ServeOptions
	// Stats, if set, adds the protocol's counters to the service's stats
	// (the kit reports errors, bytes_in and bytes_out).
	Stats func() map[string]any
	// Sweep, if set, runs on the janitor's tick (expiring sessions, say).
	Sweep func(now time.Time)
	// Stopped, if set, runs once Stop has seen the last request finish.
	Stopped func()
}

// Handler answers one assembled request. ctx ends when the replica stops.
type Handler func(ctx context.Context, body []byte) ([]byte, error)

// Endpoint is one request subject of a replica.
type Endpoint struct {
	Name   string
	Handle Handler
	// Own puts the endpoint on the replica's own subject (OwnSubject), out
	// of the queue group: a session's requests, and the parts of one
	// request, must reach one replica. Otherwise it is on Subject, shared.
	Own bool
	// PendingBytes bounds the bytes waiting on the subscription; 0 keeps
	// the NATS default.
	PendingBytes int
}

// Server is one replica's NATS side.
type Server struct {
	nc   *nats.Conn
	cfg  Config
	svc  micro.Service
	base context.Context
	stop context.CancelFunc
	sem  chan struct{}
	done chan struct{}

	flight   envelope.Inflight
	partials envelope.Partials // multi-part requests by reply subject

	errors, bytesIn, bytesOut atomic.Int64
}

// New registers the replica's micro service; Serve adds its endpoints. The
// replica stops when ctx ends or Stop is called.
func New(ctx context.Context, nc *nats.Conn, cfg Config) (*Server, error) {
	if err := CheckName(cfg.Name); err != nil {
		return nil, err
	}
	cfg.Options.defaults(nc)
	s := &Server{nc: nc, cfg: cfg, sem: make(chan struct{}, cfg.Options.Concurrency), done: make(chan struct{})}
	s.base, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	svc, err := micro.AddService(nc, micro.Config{
		Name:         cfg.Service,
		Version:      cfg.Options.Version,
		Description:  cfg.Description,
		Metadata:     map[string]string{cfg.Kind: cfg.Name, "protocol": fmt.Sprint(cfg.Protocol)},
		StatsHandler: func(*micro.Endpoint) any { return s.stats() },
	})
	if err != nil {
		return nil, fmt.Errorf("serve %s %s: %w", cfg.Kind, cfg.Name, err)
	}
	s.svc = svc
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.done:
		}
	}()
	return s, nil
}

func (s *Server) stats() map[string]any {
	m := map[string]any{}
	if s.cfg.Stats != nil {
		m = s.cfg.Stats()
	}
	m["errors"] = s.errors.Load()
	m["bytes_in"] = s.bytesIn.Load()
	m["bytes_out"] = s.bytesOut.Load()
	return m
}

// Replica is this replica's id (the micro service instance id).
func (s *Server) Replica() string { return s.svc.Info().ID }

// Service is the underlying micro service (info, stats).
func (s *Server) Service() micro.Service { return s.svc }

// Options are the replica's options with the defaults filled in.
func (s *Server) Options() ServeOptions { return s.cfg.Options }

// Subject is the prefix every replica of the name shares: "<prefix>.<name>".
func (s *Server) Subject() string { return s.cfg.Options.Prefix + "." + s.cfg.Name }

// OwnSubject is this replica's own prefix: "<prefix>.<name>.r.<replica>".
func (s *Server) OwnSubject() string { return s.Subject() + ".r." + s.Replica() }

// Serve answers "info" on Subject with info as JSON and adds the endpoints,
// then waits until the NATS server knows the subscriptions, so callers may
// be told the name is served. On failure the replica is stopped.
func (s *Server) Serve(info any, endpoints ...Endpoint) error {
	if err := s.serve(info, endpoints); err != nil {
		s.Stop()
		return fmt.Errorf("serve %s %s: %w", s.cfg.Kind, s.cfg.Name, err)
	}
	go s.janitor()
	return nil
}

func (s *Server) serve(info any, endpoints []Endpoint) error {
	body, err := json.Marshal(info)
	if err != nil {
		return err
	}
	shared := s.svc.AddGroup(s.Subject()) // queue group "q": replicas share it
	own := s.svc.AddGroup(s.OwnSubject(), micro.WithGroupQueueGroupDisabled())
	err = shared.AddEndpoint("info", micro.HandlerFunc(func(req micro.Request) {
		if req.Respond(body) != nil {
			s.errors.Add(1)
		}
	}))
	if err != nil {
		return fmt.Errorf("endpoint info: %w", err)
	}
	for _, e := range endpoints {
		g, opts := shared, []micro.EndpointOpt(nil)
		if e.Own {
			g = own
		}
		if e.PendingBytes > 0 {
			opts = append(opts, micro.WithEndpointPendingLimits(-1, e.PendingBytes))
		}
		if err := g.AddEndpoint(e.Name, s.async(e.Handle), opts...); err != nil {
			return fmt.Errorf("endpoint %s: %w", e.Name, err)
		}
	}
	return s.nc.FlushTimeout(10 * time.Second)
}

// async assembles a request's parts on the subscription's goroutine, then
// handles it on its own goroutine, so a long request does not hold up the
// messages behind it.
func (s *Server) async(h Handler) micro.HandlerFunc {
	return func(req micro.Request) {
		reply := req.Reply()
		if reply == "" {
			return // not a request; nothing to answer
		}
		part := req.Headers().Get(envelope.HeaderPart)
		if s.cfg.Options.Whole {
			part = "" // no parts in this protocol: the message is the request
		}
		body, complete, err := s.partials.Add(reply, part, req.Data(), s.cfg.Options.MaxMessageBytes)
		if err != nil {
			s.fail(reply, err)
			return
		}
		if !complete {
			return
		}
		s.bytesIn.Add(int64(len(body)))
		if !s.flight.Go(func() { s.answer(reply, h, body) }) {
			s.fail(reply, errcode.New(errcode.Unavailable, "replica "+s.Replica()+" is stopping"))
		}
	}
}

func (s *Server) answer(reply string, h Handler, body []byte) {
	out, err := envelope.Guard(func() ([]byte, error) { return h(s.base, body) })
	if err != nil {
		s.fail(reply, err)
		return
	}
	if err := envelope.Reply(s.nc, reply, out, s.cfg.Options.MaxPartBytes); err != nil {
		s.errors.Add(1)
		return
	}
	s.bytesOut.Add(int64(len(out)))
}

// fail answers err with its code; internal errors are logged too, as they
// are bugs the caller cannot act on.
func (s *Server) fail(reply string, err error) {
	s.errors.Add(1)
	if errcode.CodeOf(err) == errcode.Internal {
		slog.Warn("served request failed", s.cfg.Kind, s.cfg.Name, "err", err)
	}
	s.nc.PublishMsg(envelope.ErrorReply(reply, err))
}

// Work runs fn holding one of the Concurrency slots, or returns ctx's
// error if ctx ends first.
func (s *Server) Work(ctx context.Context, fn func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	return fn()
}

// WithDeadline bounds a request's work by the caller's remaining time
// (deadline_ms in the protocols; 0 is none).
func WithDeadline(ctx context.Context, ms int64) (context.Context, context.CancelFunc) {
	if ms > 0 {
		return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
	}
	return context.WithCancel(ctx)
}

// janitor drops unfinished multi-part requests and runs Sweep.
func (s *Server) janitor() {
	ttl := s.cfg.Options.PartialTTL
	tick := time.NewTicker(min(max(ttl/4, time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-tick.C:
			s.partials.Expire(now.Add(-ttl))
			if s.cfg.Sweep != nil {
				s.cfg.Sweep(now)
			}
		}
	}
}

// Stop stops serving: new requests are refused, those in flight are
// cancelled and answered, then Stopped runs. Idempotent; later calls wait
// for the first.
func (s *Server) Stop() error {
	if !s.flight.Stop() {
		<-s.done
		return nil
	}
	err := s.svc.Stop()
	s.stop()
	s.flight.Wait()
	if s.cfg.Stopped != nil {
		s.cfg.Stopped()
	}
	close(s.done)
	return err
}
