// Package worker pulls rollout tasks from the JetStream work queue, runs
// them and publishes their outcomes. A task is acknowledged only after its
// outcome is stored, so a worker that dies mid-task loses nothing: the task
// is redelivered to another worker once its ack wait passes. Transient
// failures are retried with backoff; a task that fails for good, or keeps
// being redelivered, is recorded as failed with the reason and terminated.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/queue"
)

// Runner runs one task and returns its judged episodes.
type Runner interface {
	Run(ctx context.Context, t job.Task) (job.Outcome, error)
}

// Config tunes a worker. Zero values take the defaults.
type Config struct {
	Name string
	// MaxAttempts is how often a task is tried before it is recorded as
	// failed (default 3).
	MaxAttempts int
	// Backoff is the delay before the first retry; it doubles per attempt
	// (default 1s).
	Backoff time.Duration
	// IdleWait is how long one poll of the queues waits when they are
	// empty (default 300ms).
	IdleWait time.Duration
	Logger   *slog.Logger
	// OnStart, when set, is called as a task starts (tests and progress).
	OnStart func(job.Task)
}

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.IdleWait <= 0 {
		c.IdleWait = 300 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Worker is one task loop.
type Worker struct {
	cfg Config
	res *queue.Resources
	run Runner
	log *slog.Logger
}

// New makes a worker on opened resources with a runner.
func New(res *queue.Resources, run Runner, cfg Config) *Worker {
	cfg.defaults()
	return &Worker{cfg: cfg, res: res, run: run, log: cfg.Logger.With("worker", cfg.Name)}
}

// Run pulls and runs tasks, highest priority first, until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		m, err := w.next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.log.Warn("fetch", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(w.cfg.IdleWait):
			}
			continue
		}
		if m == nil {
			continue
		}
		w.handle(ctx, m)
	}
	return nil
}

// next takes one task: a no-wait poll of each priority in order, then a
// short wait on each.
func (w *Worker) next(ctx context.Context) (jetstream.Msg, error) {
	for _, c := range w.res.Workers {
		b, err := c.FetchNoWait(1)
		if err != nil {
			return nil, err
		}
		if m := first(b); m != nil {
			return m, nil
		}
	}
	wait := max(w.cfg.IdleWait/time.Duration(len(w.res.Workers)), 10*time.Millisecond)
	for _, c := range w.res.Workers {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b, err := c.Fetch(1, jetstream.FetchMaxWait(wait))
		if err != nil {
			return nil, err
		}
		if m := first(b); m != nil {
			return m, nil
		}
	}
	return nil, nil
}

func first(b jetstream.MessageBatch) jetstream.Msg {
	for m := range b.Messages() {
		return m
	}
	return nil
}

// handle runs one delivered task to its ack, nak or term.
func (w *Worker) handle(ctx context.Context, m jetstream.Msg) {
	var t job.Task
	if err := json.Unmarshal(m.Data(), &t); err != nil {
		w.log.Error("undecodable task, terminating it", "subject", m.Subject(), "err", err)
		_ = m.TermWithReason("undecodable task")
		return
	}
	meta, err := m.Metadata()
	attempt := 1
	if err == nil {
		attempt = int(meta.NumDelivered)
	}
	log := w.log.With("job", t.Job, "task", t.Index, "arm", t.Arm.Name, "attempt", attempt)
	if skip, why := w.obsolete(ctx, t); skip {
		log.Debug("dropping task", "why", why)
		_ = m.TermWithReason(why)
		return
	}
	if attempt > w.cfg.MaxAttempts {
		// Earlier deliveries ended without an outcome: the worker died or
		// the task outran its ack wait every time.
		w.fail(ctx, m, t, attempt, errcode.New(errcode.Internal,
			fmt.Sprintf("delivered %d times without an outcome (a worker died or stalled each time)", attempt-1)), log)
		return
	}
	if w.cfg.OnStart != nil {
		w.cfg.OnStart(t)
	}
	o, err := w.runWithHeartbeat(ctx, m, t)
	if err != nil {
		if ctx.Err() != nil {
			_ = m.Nak() // shutting down: hand the task to another worker now
			return
		}
		e := errcode.FromError(err)
		if retryable(e) && attempt < w.cfg.MaxAttempts {
			delay := w.cfg.Backoff << (attempt - 1)
			log.Warn("task failed, will retry", "err", err, "in", delay)
			_ = m.NakWithDelay(delay)
			return
		}
		w.fail(ctx, m, t, attempt, e, log)
		return
	}
	o.Job, o.Task, o.Worker, o.Attempts = t.Job, t.Index, w.cfg.Name, attempt
	for _, m := range o.Media {
		name := job.ArtifactName(t.Job, m.Name)
		if _, err := w.res.Artifacts.PutBytes(ctx, name, m.Data); err != nil {
			log.Warn("video not stored", "name", name, "err", err) // the outcome still counts
			continue
		}
		o.Artifacts = append(o.Artifacts, name)
	}
	if err := queue.PublishOutcome(ctx, w.res.JS, o); err != nil {
		log.Warn("outcome not stored, task will be redelivered", "err", err)
		_ = m.Nak()
		return
	}
	if err := m.DoubleAck(ctx); err != nil {
		log.Warn("ack", "err", err) // redelivered; the outcome is counted once
	}
}

// retryable: failures that may pass on another attempt. Internal errors
// are retried too (a crashed backend, a full disk), up to MaxAttempts.
func retryable(e errcode.Error) bool {
	return e.Code.Retryable() || e.Code == errcode.Internal
}

// fail records a task's permanent failure as its outcome and terminates it.
func (w *Worker) fail(ctx context.Context, m jetstream.Msg, t job.Task, attempt int, e errcode.Error, log *slog.Logger) {
	log.Error("task failed for good", "code", e.Code, "err", e.Message)
	o := job.Outcome{Job: t.Job, Task: t.Index, Worker: w.cfg.Name, Attempts: attempt, Error: &e}
	if err := queue.PublishOutcome(ctx, w.res.JS, o); err != nil {
		_ = m.Nak()
		return
	}
	_ = m.TermWithReason(string(e.Code))
}

// obsolete reports tasks not worth running: their job ended or vanished,
// or its deadline passed.
func (w *Worker) obsolete(ctx context.Context, t job.Task) (bool, string) {
	if !t.Deadline.IsZero() && time.Now().After(t.Deadline) {
		return true, "deadline passed"
	}
	e, err := w.res.Jobs.Get(ctx, t.Job)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return true, "job not found"
	}
	if err != nil {
		return false, "" // cannot tell; run it, the server ignores late outcomes
	}
	var r struct {
		State job.State `json:"state"`
	}
	if json.Unmarshal(e.Value(), &r) == nil && r.State.Final() {
		return true, "job " + string(r.State)
	}
	return false, ""
}

// runWithHeartbeat runs the task, telling JetStream it is still in
// progress every third of the ack wait.
func (w *Worker) runWithHeartbeat(ctx context.Context, m jetstream.Msg, t job.Task) (job.Outcome, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !t.Deadline.IsZero() {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithDeadline(runCtx, t.Deadline)
		defer c2()
	}
	beat := max(w.res.AckWait/3, 10*time.Millisecond)
	done := make(chan struct{})
	go func() {
		tk := time.NewTicker(beat)
		defer tk.Stop()
		for {
			select {
			case <-done:
				return
			case <-tk.C:
				_ = m.InProgress()
			}
		}
	}()
	start := time.Now()
	o, err := w.run.Run(runCtx, t)
	close(done)
	o.Seconds = time.Since(start).Seconds()
	return o, err
}
