package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
)

// submit validates a spec, creates owner's job (or finds the job an
// earlier submission of owner's with the same idempotency key created) and
// queues its tasks.
func (s *Server) submit(ctx context.Context, owner string, raw []byte, key string) (jobapi.SubmitReply, error) {
	rep, err := s.create(ctx, owner, raw, key)
	if err != nil {
		s.metrics.reject(err)
	}
	return rep, err
}

func (s *Server) create(ctx context.Context, owner string, raw []byte, key string) (jobapi.SubmitReply, error) {
	spec, err := job.Parse(raw, s.cfg.Limits.MaxSpecBytes)
	if err != nil {
		return jobapi.SubmitReply{}, err
	}
	if key == "" {
		key = spec.IdempotencyKey
	}
	now := s.cfg.Now()
	plan, err := job.Prepare(spec, s.cfg.Catalog, s.cfg.Limits, now)
	if err != nil {
		return jobapi.SubmitReply{}, err
	}
	id := uuid.NewString()
	if key != "" {
		existing, found, err := s.claimKey(ctx, owner, key, spec, id)
		if err != nil {
			return jobapi.SubmitReply{}, err
		}
		if found {
			r, _, err := s.get(ctx, existing)
			if err != nil {
				return jobapi.SubmitReply{}, err
			}
			return jobapi.SubmitReply{Status: r.Status(now), Existing: true}, nil
		}
	}
	if err := s.reserve(id, owner, plan); err != nil {
		if key != "" {
			_ = s.res.Idem.Delete(ctx, keyHash(owner, key)) // let a later retry claim it
		}
		return jobapi.SubmitReply{}, err
	}
	rec := job.NewRecord(id, plan, now)
	rec.Owner = owner
	// The plan first: a record is never without its plan.
	if raw, err = json.Marshal(plan); err == nil {
		_, err = s.res.Plans.Put(ctx, id, raw)
	}
	if err != nil {
		s.untrack(id)
		return jobapi.SubmitReply{}, errorf(id, fmt.Errorf("store plan: %w", err))
	}
	raw, err = json.Marshal(rec)
	if err != nil {
		s.untrack(id)
		return jobapi.SubmitReply{}, err
	}
	if _, err := s.res.Jobs.Create(ctx, id, raw); err != nil {
		s.untrack(id)
		return jobapi.SubmitReply{}, errorf(id, err)
	}
	if err := s.dispatch(ctx, rec); err != nil {
		// The record stays queued; a restart dispatches the rest.
		return jobapi.SubmitReply{}, errorf(id, err)
	}
	r, _, err := s.get(ctx, id)
	if err != nil {
		return jobapi.SubmitReply{}, err
	}
	s.metrics.submitted.Add(1)
	s.log.Info("job submitted", "job", id, "owner", owner, "name", plan.Spec.Name, "tasks", plan.TaskCount, "priority", plan.Priority)
	return jobapi.SubmitReply{Status: r.Status(now)}, nil
}

// idemEntry is what the idempotency bucket keeps per key.
type idemEntry struct {
	Job      string `json:"job"`
	SpecHash string `json:"spec_hash"`
}

// keyHash is where owner's key is kept: keys are per user, so that one
// user can neither take nor probe another's (the operator's keep their
// hash from before users existed).
func keyHash(owner, key string) string {
	if owner != "" {
		key = "user\x00" + owner + "\x00" + key
	}
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// claimKey records key -> id unless the key is taken; a taken key returns
// its job when the spec is the same, and a conflict when it is not.
func (s *Server) claimKey(ctx context.Context, owner, key string, spec job.Spec, id string) (string, bool, error) {
	spec.IdempotencyKey = ""
	canon, _ := json.Marshal(spec)
	h := sha256.Sum256(canon)
	entry := idemEntry{Job: id, SpecHash: hex.EncodeToString(h[:])}
	raw, _ := json.Marshal(entry)
	_, err := s.res.Idem.Create(ctx, keyHash(owner, key), raw)
	if err == nil {
		return "", false, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return "", false, err
	}
	e, err := s.res.Idem.Get(ctx, keyHash(owner, key))
	if err != nil {
		return "", false, err
	}
	var prev idemEntry
	if err := json.Unmarshal(e.Value(), &prev); err != nil {
		return "", false, err
	}
	if prev.SpecHash != entry.SpecHash {
		return "", false, fmt.Errorf("%w: idempotency key %q was used for a different spec (job %s)", job.ErrConflict, key, prev.Job)
	}
	return prev.Job, true, nil
}

// dispatchBatch is how many tasks are published between record updates.
const dispatchBatch = 256

// dispatch publishes r's tasks from r.Dispatched on, recording progress so
// a restart continues where it stopped, and marks the job running.
func (s *Server) dispatch(ctx context.Context, r job.Record) error {
	plan, err := s.plan(ctx, r.ID)
	if err != nil {
		return err
	}
	tasks := plan.Tasks(r.ID)
	for lo := r.Dispatched; lo < len(tasks); lo += dispatchBatch {
		hi := min(lo+dispatchBatch, len(tasks))
		if _, err := s.res.PublishTasks(ctx, r.Priority, tasks[lo:hi]); err != nil {
			return err
		}
		s.metrics.dispatched.Add(int64(hi - lo))
		var stop bool
		if _, err := s.update(ctx, r.ID, func(rec *job.Record) error {
			if rec.State.Final() {
				stop = true // cancelled while dispatching
				return errSkip
			}
			rec.Dispatched = max(rec.Dispatched, hi)
			if rec.Dispatched == rec.Tasks && rec.State == job.Queued {
				rec.State = job.Running
			}
			return nil
		}); err != nil {
			return err
		}
		if stop {
			return s.purge(ctx, r.ID)
		}
	}
	return nil
}

// end moves an unfinished job to a final state (cancelled or expired) and
// removes its queued tasks; running tasks finish and are ignored.
func (s *Server) end(ctx context.Context, id string, state job.State, reason string) (job.Record, error) {
	r, err := s.update(ctx, id, func(rec *job.Record) error {
		if rec.State.Final() {
			return errSkip
		}
		rec.State, rec.Reason, rec.Finished = state, reason, s.cfg.Now()
		return nil
	})
	if err != nil {
		return r, err
	}
	s.untrack(id)
	if r.State == state {
		s.metrics.finish(state)
		s.log.Info("job ended", "job", id, "state", state, "reason", reason, "done", r.Done, "tasks", r.Tasks)
	}
	return r, s.purge(ctx, id)
}

func (s *Server) purge(ctx context.Context, id string) error {
	err := s.res.Tasks.Purge(ctx, jetstream.WithPurgeSubject(queue.JobTasks(id)))
	if err != nil {
		return errorf(id, fmt.Errorf("purge queued tasks: %w", err))
	}
	return nil
}

// owned reads job id for owner: a job of another user is not found, so
// that its existence is not revealed either ("": the operator, every job).
func (s *Server) owned(ctx context.Context, owner, id string) (job.Record, error) {
	r, _, err := s.get(ctx, id)
	if err != nil {
		return r, err
	}
	if owner != "" && r.Owner != owner {
		return job.Record{}, fmt.Errorf("%w: %q", job.ErrNotFound, id)
	}
	return r, nil
}

// status is a job's status with its result once written.
func (s *Server) status(ctx context.Context, owner, id string) (job.Status, error) {
	r, err := s.owned(ctx, owner, id)
	if err != nil {
		return job.Status{}, err
	}
	st := r.Status(s.cfg.Now())
	if r.ResultKey != "" {
		raw, err := s.res.Artifacts.GetBytes(ctx, r.ResultKey)
		if err != nil {
			return job.Status{}, errorf(id, fmt.Errorf("read result: %w", err))
		}
		var res job.Result
		if err := json.Unmarshal(raw, &res); err != nil {
			return job.Status{}, errorf(id, fmt.Errorf("corrupt result: %w", err))
		}
		st.Result = &res
	}
	return st, nil
}

// list lists owner's jobs (the operator: every job), newest first, with
// owner's quota (the operator: every submitter's).
func (s *Server) list(ctx context.Context, owner string, req jobapi.ListRequest) (jobapi.ListReply, error) {
	recs, err := s.records(ctx)
	if err != nil {
		return jobapi.ListReply{}, err
	}
	slices.SortFunc(recs, func(a, b job.Record) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	limit := req.Limit
	if limit <= 0 {
		limit = 100
	}
	rep := jobapi.ListReply{Jobs: []job.Status{}}
	now := s.cfg.Now()
	if owner != "" {
		u := s.Usage(owner)
		rep.Quota = &u
	} else {
		rep.Quotas = s.Usages()
	}
	for _, r := range recs {
		if (req.State != "" && r.State != req.State) || (owner != "" && r.Owner != owner) {
			continue
		}
		rep.Total++
		if len(rep.Jobs) < limit {
			rep.Jobs = append(rep.Jobs, r.Status(now))
		}
	}
	return rep, nil
}
