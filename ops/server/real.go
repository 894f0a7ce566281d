package server

import (
	"context"
	"fmt"
	"time"

	"dreamrank/ops/job"
	"dreamrank/policy/zoo"
)

// Real plays a job's paired real episodes: the robot fleet, or the
// simulator standing in for it. Play must be idempotent for the same job,
// arm and seeds (a restarted server asks again).
type Real interface {
	Play(ctx context.Context, jobID, scenario string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error)
}

// finalizeLater finalizes a complete job in the background, retrying with
// backoff, so a job's real episodes never hold up the aggregator. At most
// one finalizer runs per job.
func (s *Server) finalizeLater(id string) {
	s.mu.Lock()
	if s.finalizing[id] {
		s.mu.Unlock()
		return
	}
	s.finalizing[id] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.finalizing, id)
			s.mu.Unlock()
		}()
		wait := time.Second
		for {
			err := s.finalize(s.runCtx, id)
			if err == nil || s.runCtx.Err() != nil {
				return
			}
			s.log.Error("finalize; will retry", "job", id, "err", err, "in", wait)
			select {
			case <-s.runCtx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
		}
	}()
}

// calibrate plays the real budget of every arm (its first RealBudget
// seeds, which are as random as the rest) and pairs them with the
// imagined outcomes.
func (s *Server) calibrate(ctx context.Context, id string, plan job.Plan, res *job.Result) error {
	if s.cfg.Real == nil {
		for i := range res.Scenarios {
			res.Scenarios[i].Calibration = &job.Calibration{Notes: []string{"no fleet on this server: the real budget was not spent"}}
		}
		return nil
	}
	arms := map[string]zoo.Arm{}
	for _, a := range plan.Arms {
		arms[a.Name] = a
	}
	if _, err := s.update(ctx, id, func(r *job.Record) error {
		r.Reason = fmt.Sprintf("imagined episodes done; playing up to %d real episodes per arm", plan.Spec.RealBudget)
		return nil
	}); err != nil {
		return err
	}
	for i, sc := range res.Scenarios {
		var real []job.RealEpisodes
		for _, e := range sc.Episodes {
			n := min(plan.Spec.RealBudget, len(e.Seeds))
			r, err := s.cfg.Real.Play(ctx, id, sc.Scenario, arms[e.Arm], e.Seeds[:n])
			if err != nil {
				return errorf(id, fmt.Errorf("real episodes of %s on %s: %w", e.Arm, sc.Scenario, err))
			}
			real = append(real, r)
		}
		cal, err := job.Calibrate(plan.Scenarios[i], sc, real)
		if err != nil {
			// Asking the fleet again would give the same episodes: keep
			// them and say why there are no estimates.
			cal = job.Calibration{Event: plan.Scenarios[i].Event, Real: real, Notes: []string{"no estimates: " + err.Error()}}
		}
		res.Scenarios[i].Calibration = &cal
	}
	return nil
}
