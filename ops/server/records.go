package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/job"
)

// get reads a job record and its KV revision.
func (s *Server) get(ctx context.Context, id string) (job.Record, uint64, error) {
	e, err := s.res.Jobs.Get(ctx, id)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
			return job.Record{}, 0, fmt.Errorf("%w: %q", job.ErrNotFound, id)
		}
		return job.Record{}, 0, err
	}
	var r job.Record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return job.Record{}, 0, fmt.Errorf("job %s: corrupt record: %w", id, err)
	}
	return r, e.Revision(), nil
}

// update applies change to a record with compare-and-set, retrying when
// another writer got there first. change may return errSkip to leave the
// record as it is.
func (s *Server) update(ctx context.Context, id string, change func(*job.Record) error) (job.Record, error) {
	for attempt := 0; ; attempt++ {
		r, rev, err := s.get(ctx, id)
		if err != nil {
			return r, err
		}
		if err := change(&r); err != nil {
			if errors.Is(err, errSkip) {
				return r, nil
			}
			return r, err
		}
		r.Updated = s.cfg.Now()
		raw, err := json.Marshal(r)
		if err != nil {
			return r, err
		}
		if _, err := s.res.Jobs.Update(ctx, id, raw, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) && attempt < 100 {
				continue // a concurrent writer; read again
			}
			return r, errorf(id, err)
		}
		return r, nil
	}
}

var errSkip = errors.New("no change")

// plan reads a job's plan.
func (s *Server) plan(ctx context.Context, id string) (job.Plan, error) {
	e, err := s.res.Plans.Get(ctx, id)
	if err != nil {
		return job.Plan{}, errorf(id, fmt.Errorf("read plan: %w", err))
	}
	var p job.Plan
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return job.Plan{}, errorf(id, fmt.Errorf("corrupt plan: %w", err))
	}
	return p, nil
}

// records reads every job record.
func (s *Server) records(ctx context.Context) ([]job.Record, error) {
	lister, err := s.res.Jobs.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var out []job.Record
	for k := range lister.Keys() {
		r, _, err := s.get(ctx, k)
		if errors.Is(err, job.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
