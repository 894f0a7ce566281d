package server

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
)

// Quota limits one submitter's unfinished work, so that one user cannot
// fill the queue for everyone: tasks queued or running, and imagined
// rollouts not yet done. Zero fields are no limit.
type Quota struct {
	MaxQueuedTasks int `json:"max_queued_tasks,omitempty"`
	MaxRollouts    int `json:"max_rollouts_in_flight,omitempty"`
}

// activeJob is what the server keeps in memory of an unfinished job: its
// deadline for the janitor, and its owner and progress for quotas.
type activeJob struct {
	deadline time.Time
	owner    string
	tasks    int // all of the job's
	done     int // counted, failed included
	rollouts int // all of the job's imagined rollouts
}

func newActive(r job.Record) *activeJob {
	return &activeJob{deadline: r.Deadline, owner: r.Owner, tasks: r.Tasks, done: r.Done, rollouts: r.Rollouts}
}

// left is the job's tasks not yet counted and, in proportion, its imagined
// rollouts not yet done (tasks of a job carry equal shares of seeds, but
// for a shorter last one).
func (a *activeJob) left() (tasks, rollouts int) {
	tasks = max(a.tasks-a.done, 0)
	if a.tasks == 0 {
		return 0, 0
	}
	return tasks, (a.rollouts*tasks + a.tasks - 1) / a.tasks
}

// quotaOf is user's quota: its own, else every submitter's.
func (s *Server) quotaOf(user string) Quota {
	if q, ok := s.cfg.Quotas[user]; ok {
		return q
	}
	return s.cfg.Quota
}

// usage sums user's unfinished jobs; s.mu must be held.
func (s *Server) usage(user string) jobapi.Quota {
	q := s.quotaOf(user)
	u := jobapi.Quota{User: user, MaxQueuedTasks: q.MaxQueuedTasks, MaxRollouts: q.MaxRollouts}
	for _, a := range s.active {
		if a.owner != user {
			continue
		}
		t, r := a.left()
		u.QueuedTasks += t
		u.Rollouts += r
		u.ActiveJobs++
	}
	return u
}

// Usage is user's quota and use now.
func (s *Server) Usage(user string) jobapi.Quota {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage(user)
}

// Usages are the quotas and use of every user with unfinished jobs or a
// quota of its own, sorted by user; the operator's jobs are not counted.
func (s *Server) Usages() []jobapi.Quota {
	s.mu.Lock()
	defer s.mu.Unlock()
	var users []string
	for _, a := range s.active {
		if a.owner != "" && !slices.Contains(users, a.owner) {
			users = append(users, a.owner)
		}
	}
	for u := range s.cfg.Quotas {
		if !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, strings.Compare)
	out := make([]jobapi.Quota, 0, len(users))
	for _, u := range users {
		out = append(out, s.usage(u))
	}
	return out
}

// reserve counts a new job of owner against the server's limit of
// unfinished jobs and owner's quota, and tracks it; a refusal wraps
// job.ErrQuota (quota_exceeded) and changes nothing.
func (s *Server) reserve(id, owner string, p job.Plan) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.active) >= s.cfg.MaxActive {
		return fmt.Errorf("%w: %d unfinished jobs, limit %d; retry later", job.ErrQuota, len(s.active), s.cfg.MaxActive)
	}
	if owner != "" {
		u := s.usage(owner)
		tasks, rollouts := p.TaskCount, p.Rollouts()
		if u.MaxQueuedTasks > 0 && u.QueuedTasks+tasks > u.MaxQueuedTasks {
			return fmt.Errorf("%w: user %s has %d tasks queued or running, this job adds %d, limit %d; retry when some are done",
				job.ErrQuota, owner, u.QueuedTasks, tasks, u.MaxQueuedTasks)
		}
		if u.MaxRollouts > 0 && u.Rollouts+rollouts > u.MaxRollouts {
			return fmt.Errorf("%w: user %s has %d imagined rollouts in flight, this job adds %d, limit %d; retry when some are done",
				job.ErrQuota, owner, u.Rollouts, rollouts, u.MaxRollouts)
		}
	}
	s.active[id] = &activeJob{deadline: p.Deadline, owner: owner, tasks: p.TaskCount, rollouts: p.Rollouts()}
	return nil
}

// progress records a job's counted tasks for its owner's quota.
func (s *Server) progress(r job.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.active[r.ID]; ok {
		a.done = r.Done
	}
}
