// Package server runs the evaluation-job server on NATS: the job API micro
// service (ops/jobapi), the dispatcher that expands jobs into tasks on the
// JetStream work queue, the aggregator that counts each task's outcome once
// and writes the job's result, and the janitor that expires jobs past their
// deadline. All state lives in JetStream, so a restarted server (or another
// replica) resumes unfinished jobs where they were.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/ops/job"
	"dreamrank/ops/queue"
)

// Config configures a server. Zero values take the defaults.
type Config struct {
	Catalog job.Catalog
	Limits  job.Limits // default job.DefaultLimits()
	// MaxActive is how many unfinished jobs may exist at once (default
	// 1000); more is refused with quota_exceeded.
	MaxActive int
	// Quota limits every submitter's unfinished work (jobs submitted on a
	// user's subject; the operator's are not counted); Quotas overrides it
	// per user. More is refused with quota_exceeded.
	Quota  Quota
	Quotas map[string]Quota
	Queue  queue.Config
	// Real plays jobs' real budgets; nil leaves them unspent (noted in
	// the result).
	Real Real
	// RealRounds is how many rounds each arm's real budget is spent in
	// (job.Design; default job.DefaultRounds).
	RealRounds int
	// ExpireEvery is how often deadlines are checked (default 1s).
	ExpireEvery time.Duration
	Logger      *slog.Logger
	Now         func() time.Time
}

func (c *Config) defaults() {
	if c.Limits == (job.Limits{}) {
		c.Limits = job.DefaultLimits()
	}
	if c.MaxActive <= 0 {
		c.MaxActive = 1000
	}
	if c.ExpireEvery <= 0 {
		c.ExpireEvery = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server is a running job server.
type Server struct {
	cfg    Config
	nc     *nats.Conn
	res    *queue.Resources
	svc    micro.Service
	log    *slog.Logger
	stop   context.CancelFunc
	runCtx context.Context // ends with Stop
	wg     sync.WaitGroup
	once   sync.Once
	sem    chan struct{} // bounds concurrent API handlers

	mu         sync.Mutex
	active     map[string]*activeJob // unfinished jobs
	finalizing map[string]bool       // jobs with a finalizer running
	metrics    metrics
}

// Start creates the JetStream resources, resumes unfinished jobs and starts
// serving. Stop ends it.
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (*Server, error) {
	cfg.defaults()
	res, err := queue.Ensure(ctx, nc, cfg.Queue)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, nc: nc, res: res, log: cfg.Logger, stop: stop, runCtx: runCtx,
		sem: make(chan struct{}, 16), active: map[string]*activeJob{}, finalizing: map[string]bool{}}
	if err := s.resume(ctx); err != nil {
		stop()
		return nil, err
	}
	agg, err := s.aggregator(ctx)
	if err != nil {
		stop()
		return nil, err
	}
	if err := s.serveAPI(); err != nil {
		stop()
		return nil, err
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.aggregate(runCtx, agg) }()
	go func() { defer s.wg.Done(); s.janitor(runCtx) }()
	s.log.Info("job server started", "service", s.svc.Info().Name, "id", s.svc.Info().ID, "active_jobs", len(s.active))
	return s, nil
}

// Resources are the server's JetStream resources (for embedding callers,
// such as the local workers of `dreamrank serve`).
func (s *Server) Resources() *queue.Resources { return s.res }

// Stop stops serving and waits for the background loops. Queued tasks and
// unfinished jobs stay in JetStream for the next start.
func (s *Server) Stop() error {
	var err error
	s.once.Do(func() {
		if s.svc != nil {
			err = s.svc.Stop()
		}
		s.stop()
		s.wg.Wait()
		// Wait for in-flight API handlers.
		for range cap(s.sem) {
			s.sem <- struct{}{}
		}
	})
	return err
}

// resume loads the unfinished jobs: dispatches the rest of those whose
// tasks were not all published and finalizes those whose tasks all ended.
func (s *Server) resume(ctx context.Context) error {
	recs, err := s.records(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.State.Final() {
			continue
		}
		s.track(r)
		switch {
		case r.Complete():
			s.finalizeLater(r.ID)
		case r.Dispatched < r.Tasks:
			s.log.Info("resume: dispatching the rest", "job", r.ID, "dispatched", r.Dispatched, "tasks", r.Tasks)
			if err := s.dispatch(ctx, r); err != nil {
				s.log.Error("resume: dispatch", "job", r.ID, "err", err)
			}
		}
	}
	return nil
}

func (s *Server) track(r job.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.active[r.ID] = newActive(r)
}

func (s *Server) untrack(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.active, id)
}

// janitor expires jobs past their deadline.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(s.cfg.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		var due []string
		s.mu.Lock()
		for id, a := range s.active {
			if !a.deadline.IsZero() && now.After(a.deadline) {
				due = append(due, id)
			}
		}
		s.mu.Unlock()
		for _, id := range due {
			if _, err := s.end(ctx, id, job.Expired, "deadline passed"); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("expire", "job", id, "err", err)
			}
		}
	}
}

// errorf wraps err with the job id for logs and replies.
func errorf(id string, err error) error { return fmt.Errorf("job %s: %w", id, err) }
