package remote

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
)

// ServiceName is the NATS micro service name every judge replica registers
// under (the judge's name is in its metadata).
const ServiceName = "dreamrank-judge"

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

// Server is one replica serving a judge.
type Server struct {
	kit *service.Server
	j   judge.Judge

	requests, episodes atomic.Int64
}

// Serve serves j under name until ctx is done or Stop is called. name must
// be a single subject token of [A-Za-z0-9_-].
func Serve(ctx context.Context, nc *nats.Conn, name string, j judge.Judge, opts ServeOptions) (*Server, error) {
	s := &Server{j: j}
	kit, err := service.New(ctx, nc, service.Config{
		Service: ServiceName, Kind: "judge", Name: name, Protocol: Protocol,
		Description: "dreamrank judge " + name, Stats: s.stats,
		Options: service.ServeOptions{Prefix: cmp.Or(opts.Prefix, DefaultPrefix), Concurrency: opts.Concurrency,
			MaxMessageBytes: opts.MaxMessageBytes, MaxPartBytes: opts.MaxPartBytes, PartialTTL: opts.PartialTTL},
	})
	if err != nil {
		return nil, fmt.Errorf("remote judge: %w", err)
	}
	s.kit = kit
	// Parts of one request must reach one replica, so requests go to the
	// replica's own subject, which the info reply names.
	limit := kit.Options().MaxMessageBytes
	info := infoReply{Protocol: Protocol, Judge: name, Replica: kit.Replica(), Describe: opts.Describe,
		JudgeSubject: kit.OwnSubject() + ".judge", MaxMessageBytes: limit}
	// Room for two whole requests, and never less than a few parts, so an
	// oversized request is read and refused rather than dropped.
	if err := kit.Serve(info, service.Endpoint{Name: "judge", Own: true, Handle: s.judge, PendingBytes: max(2*limit, 64<<20)}); err != nil {
		return nil, fmt.Errorf("remote judge: %w", err)
	}
	return s, nil
}

func (s *Server) stats() map[string]any {
	return map[string]any{"requests": s.requests.Load(), "episodes": s.episodes.Load()}
}

// Replica is this replica's id.
func (s *Server) Replica() string { return s.kit.Replica() }

// Stop stops serving; requests in flight are cancelled and answered.
// Idempotent.
func (s *Server) Stop() error { return s.kit.Stop() }

func (s *Server) judge(ctx context.Context, body []byte) ([]byte, error) {
	req, eps, err := decodeRequest(body)
	if err != nil {
		return nil, err
	}
	ctx, cancel := service.WithDeadline(ctx, req.DeadlineMillis)
	defer cancel()
	var vs []judge.Verdict
	err = s.kit.Work(ctx, func() error {
		s.requests.Add(1)
		s.episodes.Add(int64(len(eps)))
		vs, err = s.j.Judge(ctx, eps)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkVerdicts(vs, eps); err != nil {
		return nil, errcode.New(errcode.Internal, "the judge answered "+err.Error())
	}
	return json.Marshal(judgeReply{RequestID: req.RequestID, Verdicts: vs})
}
