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
// arm and seeds (a restarted server asks again). It is called once per
// round of an arm's two-phase design, each round on seeds no earlier round
// of the arm chose, so an episode is identified by job, arm, scenario and
// seed (robots/fleet request ids are exactly that), never by the call.
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

// calibrate spends every arm's real budget with a two-phase design
// (job.Design): its imagined seeds are put in strata by what the world
// model predicted, and in rounds real episodes go where the model is least
// certain. Play is called once per round and arm, on seeds no earlier
// round chose; the design's choices follow from the job id, scenario, arm
// and the outcomes, so a restarted server asks the same questions again
// (Play is idempotent) and chooses the same seeds. A scenario whose
// designs cannot be made (world-model features missing, say) spends each
// arm's budget on its first seeds instead, noted.
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
	for i, sc := range res.Scenarios {
		info := plan.Scenarios[i]
		designs, err := s.designs(id, plan, info, sc)
		var cal job.Calibration
		if err != nil {
			cal, err = s.calibrateFirst(ctx, id, plan, info, sc, arms)
			if err != nil {
				return err
			}
		} else {
			if err := s.playRounds(ctx, id, sc.Scenario, designs, arms); err != nil {
				return err
			}
			if cal, err = job.CalibrateDesigns(info, sc, designs); err != nil {
				// Asking the fleet again would give the same episodes: keep
				// them and say why there are no estimates.
				cal = job.Calibration{Event: info.Event, Real: cal.Real, Notes: []string{"no estimates: " + err.Error()}}
			}
		}
		res.Scenarios[i].Calibration = &cal
	}
	return nil
}

// designs starts the two-phase design of every arm of a scenario.
func (s *Server) designs(id string, plan job.Plan, info job.ScenarioInfo, sc job.ScenarioResult) ([]*job.Design, error) {
	var out []*job.Design
	for _, e := range sc.Episodes {
		d, err := job.NewDesign(info, id, sc.Scenario, e, plan.Spec.RealBudget, s.cfg.RealRounds)
		if err != nil {
			s.log.Warn("no two-phase design: the real budget goes to the first seeds", "job", id, "scenario", sc.Scenario, "arm", e.Arm, "err", err)
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// playRounds plays the designs' rounds, every arm's round r before any
// arm's round r+1, and records the outcomes.
func (s *Server) playRounds(ctx context.Context, id, scenario string, designs []*job.Design, arms map[string]zoo.Arm) error {
	rounds := 0
	for _, d := range designs {
		rounds = max(rounds, d.Rounds())
	}
	for r := range rounds {
		for _, d := range designs {
			if r >= d.Rounds() {
				continue
			}
			seeds, chosen, err := d.Next()
			if err != nil {
				return errorf(id, err)
			}
			if _, err := s.update(ctx, id, func(rec *job.Record) error {
				rec.Reason = fmt.Sprintf("real episodes, round %d of %d: %d of %d for arm %s", r+1, d.Rounds(), chosen, d.Budget(), d.Arm)
				return nil
			}); err != nil {
				return err
			}
			ep, err := s.cfg.Real.Play(ctx, id, scenario, arms[d.Arm], seeds)
			if err != nil {
				return errorf(id, fmt.Errorf("real episodes of %s on %s, round %d: %w", d.Arm, scenario, r+1, err))
			}
			if err := d.Record(ep); err != nil {
				return errorf(id, fmt.Errorf("real episodes of %s on %s, round %d: %w", d.Arm, scenario, r+1, err))
			}
		}
	}
	return nil
}

// calibrateFirst plays each arm's first RealBudget seeds (as random as the
// rest), for scenarios without a two-phase design.
func (s *Server) calibrateFirst(ctx context.Context, id string, plan job.Plan, info job.ScenarioInfo, sc job.ScenarioResult, arms map[string]zoo.Arm) (job.Calibration, error) {
	if _, err := s.update(ctx, id, func(r *job.Record) error {
		r.Reason = fmt.Sprintf("imagined episodes done; playing up to %d real episodes per arm", plan.Spec.RealBudget)
		return nil
	}); err != nil {
		return job.Calibration{}, err
	}
	var real []job.RealEpisodes
	for _, e := range sc.Episodes {
		n := min(plan.Spec.RealBudget, len(e.Seeds))
		r, err := s.cfg.Real.Play(ctx, id, sc.Scenario, arms[e.Arm], e.Seeds[:n])
		if err != nil {
			return job.Calibration{}, errorf(id, fmt.Errorf("real episodes of %s on %s: %w", e.Arm, sc.Scenario, err))
		}
		real = append(real, r)
	}
	cal, err := job.Calibrate(info, sc, real)
	if err != nil {
		cal = job.Calibration{Event: info.Event, Real: real, Notes: []string{"no estimates: " + err.Error()}}
	}
	cal.Notes = append(cal.Notes, "no two-phase design (the world model's outcomes could not be scored): each arm's real budget went to its first seeds")
	return cal, nil
}
