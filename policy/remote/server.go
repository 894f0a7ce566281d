package remote

import (
	"cmp"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/policy"
)

// ServiceName is the NATS micro service every policy replica registers
// under (the policy's name is in its metadata), so `nats micro ls` lists
// them all.
const ServiceName = "dreamrank-policy"

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

// kit is the kit's share of the options. An act request is one NATS
// message (clients split batches), so the replica takes no parts.
func (o ServeOptions) kit() service.ServeOptions {
	return service.ServeOptions{Prefix: cmp.Or(o.Prefix, DefaultPrefix), Concurrency: o.Concurrency,
		MaxMessageBytes: o.MaxMessageBytes, Version: o.Version, Whole: true}
}

// Server is one replica serving a policy. Policies are stateless, so every
// replica of a name answers any request: both subjects share the queue
// group.
type Server struct {
	kit *service.Server
	p   policy.Policy

	acts, obs, actNanos atomic.Int64
}

// Serve serves p under name until ctx is done or Stop is called. name must
// be a single subject token of [A-Za-z0-9_-].
func Serve(ctx context.Context, nc *nats.Conn, name string, p policy.Policy, opts ServeOptions) (*Server, error) {
	s := &Server{p: p}
	kit, err := service.New(ctx, nc, service.Config{
		Service: ServiceName, Kind: "policy", Name: name, Protocol: Protocol,
		Description: "dreamrank policy " + name, Options: opts.kit(), Stats: s.stats,
	})
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	s.kit = kit
	limit := kit.Options().MaxMessageBytes
	info := infoReply{Protocol: Protocol, Policy: name, Replica: kit.Replica(), Spec: p.Spec(),
		ActSubject: kit.Subject() + ".act", MaxMessageBytes: limit}
	if d, ok := p.(policy.Describer); ok {
		info.Describe = d.Describe()
	}
	if err := kit.Serve(info, service.Endpoint{Name: "act", Handle: s.act, PendingBytes: 4 * limit}); err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return s, nil
}

func (s *Server) stats() map[string]any {
	return map[string]any{"acts": s.acts.Load(), "observations": s.obs.Load(), "act_seconds": float64(s.actNanos.Load()) / 1e9}
}

// Service is the underlying micro service (info, stats).
func (s *Server) Service() micro.Service { return s.kit.Service() }

// Stop stops serving: new requests are refused, in-flight ones are
// cancelled and answered. Idempotent.
func (s *Server) Stop() error { return s.kit.Stop() }

// act answers one act request (a whole NATS message: the kit has checked
// its size).
func (s *Server) act(ctx context.Context, body []byte) ([]byte, error) {
	req, obs, steer, err := decodeAct(body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := service.WithDeadline(ctx, req.DeadlineMillis)
	defer cancel()
	var out []byte
	err = s.kit.Work(ctx, func() error {
		out, err = s.actOn(ctx, obs, steer)
		return err
	})
	return out, err
}

func (s *Server) actOn(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]byte, error) {
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
