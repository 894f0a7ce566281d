// Package schedule runs the nightly job on a cron schedule.
//
// The time logic is pure and separate from the side effect: Parse turns a
// cron expression into a Schedule, Due says which scheduled slot (if any) is
// owed at a given time, and Scheduler.Run sleeps on a Clock until the next
// slot and calls the Job it was given. Nothing here knows what the nightly
// job does (re-ranking, reports) or where its bookkeeping lives: the caller
// persists the last completed slot through the State interface (the server
// keeps it in JetStream KV; tests keep it in memory).
//
// Missed runs: after downtime every slot that passed while the scheduler was
// down is owed, but running the job once per missed night would only redo the
// same work on the same data N times. Due therefore collapses them: the job
// runs once, for the latest passed slot, and that slot is recorded; the
// missed count is reported with the run.
//
// A run can also be started by hand (Trigger, behind `dreamrank report
// nightly --now`); a manual run does not touch the recorded slot, so it never
// suppresses the next scheduled run.
package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultSpec is the nightly default: 02:00 every day, in the scheduler's
// location.
const DefaultSpec = "0 2 * * *"

// Sentinel errors.
var (
	// ErrSpec: the cron expression does not parse.
	ErrSpec = errors.New("schedule: bad cron expression")
	// ErrBusy: a run is already in progress.
	ErrBusy = errors.New("schedule: a run is already in progress")
)

// Schedule is a parsed cron expression.
type Schedule struct {
	spec string
	loc  *time.Location
	cron cron.Schedule
}

// Parse parses a standard five-field cron expression ("minute hour
// day-of-month month day-of-week", descriptors such as "@daily" too, and
// an optional "CRON_TZ=Zone " prefix) evaluated in loc (nil means UTC). An
// empty spec means DefaultSpec.
func Parse(spec string, loc *time.Location) (Schedule, error) {
	if spec == "" {
		spec = DefaultSpec
	}
	if loc == nil {
		loc = time.UTC
	}
	c, err := cron.ParseStandard(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("%w: %q: %v", ErrSpec, spec, err)
	}
	return Schedule{spec: spec, loc: loc, cron: c}, nil
}

// String is the cron expression.
func (s Schedule) String() string { return s.spec }

// Next is the first slot strictly after t (zero if the expression never
// fires again).
func (s Schedule) Next(t time.Time) time.Time { return s.cron.Next(t.In(s.loc)) }

// lookback bounds how far Due searches for passed slots when nothing was
// ever recorded, or the record is older than that.
const lookback = 400 * 24 * time.Hour

// Due reports the slot owed at now: the latest slot in (last, now]. ok is
// false when no slot passed since last. missed counts the slots in (last,
// now] (at least 1 when ok): all of them are settled by one run for slot.
// A zero last means "never ran": then no slot is owed (the first run is the
// next slot) unless firstRun, in which case the latest passed slot is.
func Due(s Schedule, last, now time.Time, firstRun bool) (slot time.Time, missed int, ok bool) {
	if last.IsZero() && !firstRun {
		return time.Time{}, 0, false
	}
	from := last
	if floor := now.Add(-lookback); from.Before(floor) {
		from = floor
	}
	for t := s.Next(from); !t.IsZero() && !t.After(now); t = s.Next(t) {
		slot = t
		missed++
	}
	if missed == 0 {
		return time.Time{}, 0, false
	}
	if last.IsZero() {
		missed = 1 // never ran: one run owed, however far the lookback reached
	}
	return slot, missed, true
}

// State persists the last completed scheduled slot across restarts.
type State interface {
	// LastRun is the slot of the last completed scheduled run; zero when
	// none completed yet.
	LastRun(ctx context.Context) (time.Time, error)
	// SetLastRun records a completed scheduled run's slot.
	SetLastRun(ctx context.Context, slot time.Time) error
}

// Run describes one run of the job.
type Run struct {
	// Slot is the scheduled time the run is for (for a manual run, the
	// time it was started).
	Slot time.Time
	// Started is when the job was called.
	Started time.Time
	// Manual is true for a run started by hand.
	Manual bool
	// Missed is how many scheduled slots this run settles (1 on time, more
	// when catching up after downtime; 0 for a manual run).
	Missed int
}

// Job is the nightly work. It is called at most once at a time.
type Job func(ctx context.Context, run Run) error

// Clock is the time source; Real is the wall clock, tests use a fake.
type Clock interface {
	Now() time.Time
	// After is like time.After.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// Now implements Clock.
func (Real) Now() time.Time { return time.Now() }

// After implements Clock.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Config configures a Scheduler; zero values take the defaults.
type Config struct {
	// Spec is the cron expression; default DefaultSpec.
	Spec string
	// Location the expression is read in; default UTC.
	Location *time.Location
	// FirstRun: when no run was ever recorded, run once at start for the
	// latest passed slot instead of waiting for the next one (so a fresh
	// install shows a report without waiting for the night).
	FirstRun bool
	// Retry is how long to wait after a failed run (or a failure of State)
	// before trying again; default 15 minutes.
	Retry time.Duration
	// MaxSleep caps one sleep between checks, so a wall clock that jumps
	// (NTP, a suspended VM) is noticed; default one hour.
	MaxSleep time.Duration
	// Clock; default Real.
	Clock Clock
	// OnRun, when set, is told of every finished run (err nil on success),
	// e.g. to log it.
	OnRun func(run Run, err error)
}

// Scheduler calls a Job on a Schedule, catching up missed slots once.
type Scheduler struct {
	sched Schedule
	cfg   Config
	state State
	job   Job
	busy  sync.Mutex
}

// New makes a Scheduler; it does nothing until Run.
func New(cfg Config, state State, job Job) (*Scheduler, error) {
	s, err := Parse(cfg.Spec, cfg.Location)
	if err != nil {
		return nil, err
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 15 * time.Minute
	}
	if cfg.MaxSleep <= 0 {
		cfg.MaxSleep = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = Real{}
	}
	if state == nil || job == nil {
		return nil, errors.New("schedule: nil state or job")
	}
	return &Scheduler{sched: s, cfg: cfg, state: state, job: job}, nil
}

// Schedule is the parsed expression.
func (s *Scheduler) Schedule() Schedule { return s.sched }

// Next is the next scheduled slot after now.
func (s *Scheduler) Next() time.Time { return s.sched.Next(s.cfg.Clock.Now()) }

// Run runs the job whenever a slot is due until ctx ends, which is the only
// way it returns (with ctx's error). Job failures are reported through
// OnRun and retried after Config.Retry; they do not stop the loop.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		wait, err := s.tick(ctx)
		if err != nil {
			wait = s.cfg.Retry
		}
		wait = min(wait, s.cfg.MaxSleep)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.cfg.Clock.After(wait):
		}
	}
}

// tick runs the owed slot, if any, and returns how long to sleep.
func (s *Scheduler) tick(ctx context.Context) (time.Duration, error) {
	clock := s.cfg.Clock
	last, err := s.state.LastRun(ctx)
	if err != nil {
		s.report(Run{Started: clock.Now()}, fmt.Errorf("schedule: last run: %w", err))
		return 0, err
	}
	now := clock.Now()
	if slot, missed, ok := Due(s.sched, last, now, s.cfg.FirstRun); ok {
		run := Run{Slot: slot, Started: now, Missed: missed}
		if err := s.do(ctx, run); err != nil {
			return 0, err
		}
		if err := s.state.SetLastRun(ctx, slot); err != nil {
			err = fmt.Errorf("schedule: record run: %w", err)
			s.report(run, err)
			return 0, err
		}
		now = clock.Now()
	}
	next := s.sched.Next(now)
	if next.IsZero() {
		return s.cfg.MaxSleep, nil // an expression that never fires: idle
	}
	return next.Sub(now), nil
}

// do runs the job with the busy lock held, waiting for a manual run to end.
func (s *Scheduler) do(ctx context.Context, run Run) error {
	s.busy.Lock()
	defer s.busy.Unlock()
	err := s.job(ctx, run)
	s.report(run, err)
	return err
}

func (s *Scheduler) report(run Run, err error) {
	if s.cfg.OnRun != nil {
		s.cfg.OnRun(run, err)
	}
}

// Trigger runs the job now, by hand, in the caller's goroutine, and returns
// its error. It returns ErrBusy at once when a run is in progress. It does
// not record a slot: the next scheduled run happens as planned.
func (s *Scheduler) Trigger(ctx context.Context) error {
	if !s.busy.TryLock() {
		return ErrBusy
	}
	defer s.busy.Unlock()
	now := s.cfg.Clock.Now()
	run := Run{Slot: now, Started: now, Manual: true}
	err := s.job(ctx, run)
	s.report(run, err)
	return err
}

// MemoryState is a State in memory, for tests and one-shot commands.
type MemoryState struct {
	mu   sync.Mutex
	last time.Time
}

// LastRun implements State.
func (m *MemoryState) LastRun(context.Context) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last, nil
}

// SetLastRun implements State.
func (m *MemoryState) SetLastRun(_ context.Context, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = t
	return nil
}
