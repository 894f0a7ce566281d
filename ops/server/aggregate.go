package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
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

// aggregate counts outcomes as they arrive until ctx ends. Outcomes are
// taken in batches and counted with one record update per job and batch.
// An outcome is acknowledged only after its count is stored, so a crash in
// between redelivers it, and the record's done bits make the recount a
// no-op.
func (s *Server) aggregate(ctx context.Context, c jetstream.Consumer) {
	for ctx.Err() == nil {
		// Wait for one outcome, then take whatever else is waiting: a
		// batch when busy, no added latency when not.
		msgs, err := take(c.Fetch(1, jetstream.FetchMaxWait(500*time.Millisecond)))
		if err == nil && len(msgs) > 0 {
			var more []jetstream.Msg
			more, err = take(c.FetchNoWait(127))
			msgs = append(msgs, more...)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("aggregator: fetch", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
		s.countBatch(ctx, msgs)
	}
}

// take drains a fetched batch.
func take(b jetstream.MessageBatch, err error) ([]jetstream.Msg, error) {
	if err != nil {
		return nil, err
	}
	var msgs []jetstream.Msg
	for m := range b.Messages() {
		msgs = append(msgs, m)
	}
	if err := b.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		return msgs, err
	}
	return msgs, nil
}

// countBatch counts a batch of outcome messages, grouped by job, and acks
// (or naks) each.
func (s *Server) countBatch(ctx context.Context, msgs []jetstream.Msg) {
	byJob := map[string][]job.Outcome{}
	msgsOf := map[string][]jetstream.Msg{}
	var order []string
	for _, m := range msgs {
		var o job.Outcome
		if err := json.Unmarshal(m.Data(), &o); err != nil {
			s.log.Error("aggregator: dropping undecodable outcome", "subject", m.Subject(), "err", err)
			_ = m.Term()
			continue
		}
		if _, ok := byJob[o.Job]; !ok {
			order = append(order, o.Job)
		}
		byJob[o.Job] = append(byJob[o.Job], o)
		msgsOf[o.Job] = append(msgsOf[o.Job], m)
	}
	for _, id := range order {
		err := ctx.Err()
		if err == nil {
			err = s.count(ctx, id, byJob[id])
		}
		for _, m := range msgsOf[id] {
			switch {
			case err == nil:
				_ = m.Ack()
			case ctx.Err() != nil:
				_ = m.Nak() // stopping: leave it to the next server at once
			default:
				_ = m.NakWithDelay(time.Second)
			}
		}
		if err != nil && ctx.Err() == nil {
			s.log.Error("aggregator: count outcomes", "job", id, "err", err)
		}
	}
}

// count adds outcomes of one job to its record and finalizes the job when
// they were its last.
func (s *Server) count(ctx context.Context, id string, outs []job.Outcome) error {
	var complete bool
	var newly int
	rec, err := s.update(ctx, id, func(r *job.Record) error {
		newly = 0 // a compare-and-set retry counts again
		if r.State.Final() {
			return errSkip // cancelled or expired: late outcomes are ignored
		}
		added := false
		for _, o := range outs {
			ok, err := r.Count(o)
			if err != nil {
				s.log.Error("aggregator: dropping outcome", "job", id, "task", o.Task, "err", err)
				continue
			}
			if ok {
				newly++
			}
			added = added || ok
		}
		complete = r.Complete()
		if !added {
			return errSkip
		}
		return nil
	})
	if errors.Is(err, job.ErrNotFound) {
		s.log.Error("aggregator: dropping outcomes of an unknown job", "job", id, "n", len(outs))
		return nil
	}
	if err != nil {
		return err
	}
	s.progress(rec)
	s.metrics.counted.Add(int64(newly))
	s.metrics.repeats.Add(int64(len(outs) - newly))
	if complete {
		s.finalizeLater(id)
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
	plan, err := s.plan(ctx, id)
	if err != nil {
		return err
	}
	res, err := job.Aggregate(plan, id, outcomes)
	if err != nil {
		return err
	}
	if plan.Spec.RealBudget > 0 {
		if err := s.calibrate(ctx, id, plan, &res); err != nil {
			return err
		}
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
		rec.State, rec.ResultKey, rec.Finished, rec.Reason = job.Succeeded, key, s.cfg.Now(), ""
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
	s.metrics.finish(final.State)
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
