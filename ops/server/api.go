package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
)

// serveAPI registers the job API micro service: each endpoint on the
// operator's subject and on every user's (jobapi.UserSubject), where the
// subject's user token is the caller.
func (s *Server) serveAPI() error {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name: jobapi.ServiceName, Version: jobapi.ServiceVersion,
		Description: "dreamrank evaluation jobs: submit, status, list, cancel, artifact",
	})
	if err != nil {
		return fmt.Errorf("server: job API: %w", err)
	}
	g := svc.AddGroup(jobapi.Prefix)
	endpoints := []struct {
		name string
		h    func(context.Context, string, micro.Request) (any, error)
	}{
		{"submit", s.handleSubmit},
		{"status", s.handleStatus},
		{"list", s.handleList},
		{"cancel", s.handleCancel},
		{"artifact", s.handleArtifact},
	}
	for _, e := range endpoints {
		err := g.AddEndpoint(e.name, s.handler(e.h))
		if err == nil {
			err = g.AddEndpoint("user-"+e.name, s.handler(e.h), micro.WithEndpointSubject(jobapi.UserToken+".*."+e.name))
		}
		if err != nil {
			_ = svc.Stop()
			return fmt.Errorf("server: job API %s: %w", e.name, err)
		}
	}
	s.svc = svc
	return nil
}

// caller is the user whose subject a request came on, "" for the
// operator's subjects. NATS lets only that user (and admins) publish
// there, so unlike a header the subject cannot be forged.
func caller(subject string) (string, error) {
	rest, ok := strings.CutPrefix(subject, jobapi.Prefix+"."+jobapi.UserToken+".")
	if !ok {
		return "", nil
	}
	user, _, _ := strings.Cut(rest, ".")
	if err := jobapi.ValidUser(user); err != nil {
		return "", fmt.Errorf("%w: %v", errcode.BadRequest, err)
	}
	return user, nil
}

// apiTimeout bounds one API call's JetStream work.
const apiTimeout = 30 * time.Second

// handler runs h in its own goroutine (at most cap(sem) at once) and
// replies with its JSON result or its coded error.
func (s *Server) handler(h func(context.Context, string, micro.Request) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		s.sem <- struct{}{}
		go func() {
			defer func() { <-s.sem }()
			ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
			defer cancel()
			user, err := caller(req.Subject())
			var out any
			if err == nil {
				out, err = h(ctx, user, req)
			}
			if err != nil {
				e := errcode.FromError(err)
				body, _ := json.Marshal(e)
				if e.Code == errcode.Internal {
					s.log.Error("job API", "subject", req.Subject(), "err", err)
				}
				_ = req.Error(string(e.Code), oneLine(e.Message), body)
				return
			}
			_ = req.RespondJSON(out)
		}()
	})
}

func (s *Server) handleSubmit(ctx context.Context, user string, req micro.Request) (any, error) {
	return s.submit(ctx, user, req.Data(), req.Headers().Get(jobapi.HeaderIdempotencyKey))
}

func (s *Server) handleStatus(ctx context.Context, user string, req micro.Request) (any, error) {
	var r jobapi.IDRequest
	if err := decode(req.Data(), &r); err != nil {
		return nil, err
	}
	return s.status(ctx, user, r.ID)
}

func (s *Server) handleList(ctx context.Context, user string, req micro.Request) (any, error) {
	var r jobapi.ListRequest
	if len(req.Data()) > 0 {
		if err := decode(req.Data(), &r); err != nil {
			return nil, err
		}
	}
	return s.list(ctx, user, r)
}

func (s *Server) handleCancel(ctx context.Context, user string, req micro.Request) (any, error) {
	var r jobapi.IDRequest
	if err := decode(req.Data(), &r); err != nil {
		return nil, err
	}
	if _, err := s.owned(ctx, user, r.ID); err != nil {
		return nil, err
	}
	reason := "cancelled by request"
	if r.Reason != "" {
		reason = "cancelled: " + r.Reason
	}
	if _, err := s.end(ctx, r.ID, job.Canceled, reason); err != nil {
		return nil, err
	}
	return s.status(ctx, user, r.ID)
}

func (s *Server) handleArtifact(ctx context.Context, user string, req micro.Request) (any, error) {
	var r jobapi.ArtifactRequest
	if err := decode(req.Data(), &r); err != nil {
		return nil, err
	}
	return s.artifact(ctx, user, r)
}

// decode reads a JSON request strictly.
func decode(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %v", errcode.BadRequest, err)
	}
	return nil
}

// oneLine keeps an error description to one short header line.
func oneLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	if len(b) > 1024 {
		b = b[:1024]
	}
	return string(b)
}
