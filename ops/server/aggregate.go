package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/job"
	"dreamrank/ops/queue"
)

// aggregator opens the durable consumer the server counts outcomes with.
func (s *Server) aggregator(ctx context.Context) (jetstream.Consumer, error) {
	c, err := s.res.Outcomes.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		// A crashed server's unacknowledged outcomes come back after AckWait.
		Durable: queue.Aggregator, AckPolicy: jetstream.AckExplicitPolicy, AckWait: s.res.AckWait,
		MaxDeliver: -1, MaxAckPending: 4096, Replicas: s.cfg.Queue.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("server: aggregator consumer: %w", err)
	}
	return c, nil
}

// aggregate counts outcomes as they arrive until ctx ends. An outcome is
// acknowledged only after its count is stored, so a crash in between
// redelivers it, and the record's done bits make the recount a no-op.
func (s *Server) aggregate(ctx context.Context, c jetstream.Consumer) {
	for ctx.Err() == nil {
		batch, err := c.Fetch(64, jetstream.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("aggregator: fetch", "err", err)
				sleep(ctx, 200*time.Millisecond)
			}
			continue
		}
		for m := range batch.Messages() {
			if ctx.Err() != nil {
				_ = m.Nak() // stopping: leave it to the next server at once
				continue
			}
			if err := s.count(ctx, m.Data()); err != nil {
				if ctx.Err() != nil {
					_ = m.Nak()
					continue
				}
				s.log.Error("aggregator: count outcome", "subject", m.Subject(), "err", err)
				_ = m.NakWithDelay(time.Second)
				continue
			}
			_ = m.Ack()
		}
		if err := batch.Error(); err != nil && ctx.Err() == nil && !errors.Is(err, jetstream.ErrNoMessages) {
			s.log.Warn("aggregator: batch", "err", err)
		}
	}
}

// count adds one outcome to its job and finalizes the job when it was the
// last.
func (s *Server) count(ctx context.Context, raw []byte) error {
	var o job.Outcome
	if err := json.Unmarshal(raw, &o); err != nil {
		s.log.Error("aggregator: dropping undecodable outcome", "err", err)
		return nil
	}
	var complete bool
	_, err := s.update(ctx, o.Job, func(r *job.Record) error {
		if r.State.Final() {
			return errSkip // cancelled or expired: late outcomes are ignored
		}
		added, err := r.Count(o)
		if err != nil {
			return err
		}
		complete = r.Complete()
		if !added {
			return errSkip
		}
		return nil
	})
	if errors.Is(err, job.ErrNotFound) || errors.Is(err, job.ErrConflict) {
		s.log.Error("aggregator: dropping outcome", "job", o.Job, "task", o.Task, "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	if complete {
		return s.finalize(ctx, o.Job)
	}
	return nil
}

// finalize reads every outcome of a complete job, ranks the arms, stores
// the result in the object store and marks the job done.
func (s *Server) finalize(ctx context.Context, id string) error {
	r, _, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	if r.State.Final() {
		return nil
	}
	outcomes, err := s.outcomes(ctx, r)
	if err != nil {
		return err
	}
	res, err := job.Aggregate(r.Plan, id, outcomes)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(res)
	if err != nil {
		return err
	}
	key := "jobs/" + id + "/result.json"
	if _, err := s.res.Artifacts.PutBytes(ctx, key, raw); err != nil {
		return errorf(id, fmt.Errorf("store result: %w", err))
	}
	final, err := s.update(ctx, id, func(rec *job.Record) error {
		if rec.State.Final() {
			return errSkip
		}
		rec.State, rec.ResultKey, rec.Finished = job.Succeeded, key, s.cfg.Now()
		if rec.Failed > 0 {
			rec.State = job.Failed
			rec.Reason = fmt.Sprintf("%d of %d tasks failed", rec.Failed, rec.Tasks)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.untrack(id)
	s.log.Info("job finished", "job", id, "state", final.State, "tasks", final.Tasks, "failed", final.Failed,
		"seconds", final.Finished.Sub(final.Created).Seconds())
	return nil
}

// outcomes reads the one stored outcome of each task of r.
func (s *Server) outcomes(ctx context.Context, r job.Record) (map[int]job.Outcome, error) {
	c, err := s.res.JS.OrderedConsumer(ctx, queue.OutcomeStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"dreamrank.outcomes." + r.ID + ".*"},
	})
	if err != nil {
		return nil, errorf(r.ID, err)
	}
	out := make(map[int]job.Outcome, r.Tasks)
	deadline := time.Now().Add(time.Minute)
	for len(out) < r.Tasks {
		if time.Now().After(deadline) {
			return nil, errorf(r.ID, fmt.Errorf("read outcomes: %d of %d found", len(out), r.Tasks))
		}
		batch, err := c.Fetch(min(r.Tasks-len(out), 512), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, errorf(r.ID, err)
		}
		for m := range batch.Messages() {
			var o job.Outcome
			if err := json.Unmarshal(m.Data(), &o); err != nil {
				return nil, errorf(r.ID, fmt.Errorf("corrupt outcome on %s: %w", m.Subject(), err))
			}
			out[o.Task] = o
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, errorf(r.ID, err)
		}
	}
	return out, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
