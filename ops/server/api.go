package server

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
)

// serveAPI registers the job API micro service.
func (s *Server) serveAPI() error {
	svc, err := micro.AddService(s.nc, micro.Config{
		Name: jobapi.ServiceName, Version: jobapi.ServiceVersion,
		Description: "dreamrank evaluation jobs: submit, status, list, cancel",
	})
	if err != nil {
		return fmt.Errorf("server: job API: %w", err)
	}
	g := svc.AddGroup(jobapi.Prefix)
	endpoints := []struct {
		name string
		h    func(context.Context, micro.Request) (any, error)
	}{
		{"submit", s.handleSubmit},
		{"status", s.handleStatus},
		{"list", s.handleList},
		{"cancel", s.handleCancel},
	}
	for _, e := range endpoints {
		if err := g.AddEndpoint(e.name, s.handler(e.h)); err != nil {
			_ = svc.Stop()
			return fmt.Errorf("server: job API %s: %w", e.name, err)
		}
	}
	s.svc = svc
	return nil
}

// apiTimeout bounds one API call's JetStream work.
const apiTimeout = 30 * time.Second

// handler runs h in its own goroutine (at most cap(sem) at once) and
// replies with its JSON result or its coded error.
func (s *Server) handler(h func(context.Context, micro.Request) (any, error)) micro.Handler {
	return micro.HandlerFunc(func(req micro.Request) {
		s.sem <- struct{}{}
		go func() {
			defer func() { <-s.sem }()
			ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
			defer cancel()
			out, err := h(ctx, req)
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

func (s *Server) handleSubmit(ctx context.Context, req micro.Request) (any, error) {
	return s.submit(ctx, req.Data(), req.Headers().Get(jobapi.HeaderIdempotencyKey))
}

func (s *Server) handleStatus(ctx context.Context, req micro.Request) (any, error) {
	var r jobapi.IDRequest
	if err := decode(req.Data(), &r); err != nil {
		return nil, err
	}
	return s.status(ctx, r.ID)
}

func (s *Server) handleList(ctx context.Context, req micro.Request) (any, error) {
	var r jobapi.ListRequest
	if len(req.Data()) > 0 {
		if err := decode(req.Data(), &r); err != nil {
			return nil, err
		}
	}
	return s.list(ctx, r)
}

func (s *Server) handleCancel(ctx context.Context, req micro.Request) (any, error) {
	var r jobapi.IDRequest
	if err := decode(req.Data(), &r); err != nil {
		return nil, err
	}
	reason := "cancelled by request"
	if r.Reason != "" {
		reason = "cancelled: " + r.Reason
	}
	if _, err := s.end(ctx, r.ID, job.Canceled, reason); err != nil {
		return nil, err
	}
	return s.status(ctx, r.ID)
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
