package server

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
)

// metrics are the server's counters, exposed in the Prometheus text format
// by WriteMetrics.
type metrics struct {
	submitted  atomic.Int64 // jobs created
	dispatched atomic.Int64 // tasks published
	counted    atomic.Int64 // task outcomes counted (each task once)
	repeats    atomic.Int64 // outcomes of already-counted tasks, ignored

	mu       sync.Mutex
	rejected map[errcode.Code]int64 // submissions refused, by code
	finished map[job.State]int64    // jobs ended, by final state
}

func (m *metrics) reject(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rejected == nil {
		m.rejected = map[errcode.Code]int64{}
	}
	m.rejected[errcode.FromError(err).Code]++
}

func (m *metrics) finish(s job.State) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.finished == nil {
		m.finished = map[job.State]int64{}
	}
	m.finished[s]++
}

// WriteMetrics writes the server's metrics in the Prometheus text format,
// with the queue depths read from JetStream.
func (s *Server) WriteMetrics(ctx context.Context, w io.Writer) error {
	m := &s.metrics
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, help, name, name, v)
	}
	counter("dreamrank_jobs_submitted_total", "Jobs created.", m.submitted.Load())
	counter("dreamrank_tasks_dispatched_total", "Tasks published to the work queue.", m.dispatched.Load())
	counter("dreamrank_outcomes_counted_total", "Task outcomes counted (each task once).", m.counted.Load())
	counter("dreamrank_outcomes_repeated_total", "Outcomes not counted: their task was counted already or their job had ended.", m.repeats.Load())
	m.mu.Lock()
	fmt.Fprintf(w, "# HELP dreamrank_submissions_rejected_total Submissions refused, by error code.\n# TYPE dreamrank_submissions_rejected_total counter\n")
	for _, c := range slices.Sorted(maps.Keys(m.rejected)) {
		fmt.Fprintf(w, "dreamrank_submissions_rejected_total{code=%q} %d\n", c, m.rejected[c])
	}
	fmt.Fprintf(w, "# HELP dreamrank_jobs_finished_total Jobs ended, by final state.\n# TYPE dreamrank_jobs_finished_total counter\n")
	for _, st := range slices.Sorted(maps.Keys(m.finished)) {
		fmt.Fprintf(w, "dreamrank_jobs_finished_total{state=%q} %d\n", st, m.finished[st])
	}
	m.mu.Unlock()
	s.mu.Lock()
	active := len(s.active)
	s.mu.Unlock()
	fmt.Fprintf(w, "# HELP dreamrank_jobs_active Unfinished jobs.\n# TYPE dreamrank_jobs_active gauge\ndreamrank_jobs_active %d\n", active)
	// Each family's samples together, as the text format wants.
	qs := s.Usages()
	for _, f := range []struct {
		name, help string
		v          func(jobapi.Quota) int
	}{
		{"dreamrank_user_tasks_queued", "A submitter's tasks queued or running.", func(q jobapi.Quota) int { return q.QueuedTasks }},
		{"dreamrank_user_tasks_limit", "A submitter's quota of tasks queued or running (0: none).", func(q jobapi.Quota) int { return q.MaxQueuedTasks }},
		{"dreamrank_user_rollouts_in_flight", "A submitter's imagined rollouts not yet done.", func(q jobapi.Quota) int { return q.Rollouts }},
		{"dreamrank_user_rollouts_limit", "A submitter's quota of imagined rollouts in flight (0: none).", func(q jobapi.Quota) int { return q.MaxRollouts }},
	} {
		if len(qs) == 0 {
			break
		}
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", f.name, f.help, f.name)
		for _, q := range qs {
			fmt.Fprintf(w, "%s{user=%q} %d\n", f.name, q.User, f.v(q))
		}
	}
	fmt.Fprintf(w, "# HELP dreamrank_tasks_queued Tasks waiting or running, by priority.\n# TYPE dreamrank_tasks_queued gauge\n")
	for i, c := range s.res.Workers {
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "dreamrank_tasks_queued{priority=%q} %d\n", job.Priorities()[i], info.NumPending+uint64(info.NumAckPending))
	}
	return nil
}
