package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		after      string
		next       string
		err        bool
	}{
		{"empty means 02:00 daily", "", "2026-11-27T01:05:00Z", "2026-11-27T02:00:00Z", false},
		{"default after 02:00 is tomorrow", DefaultSpec, "2026-11-27T02:00:00Z", "2026-11-28T02:00:00Z", false},
		{"every 30 minutes", "*/30 * * * *", "2026-11-27T01:05:00Z", "2026-11-27T01:30:00Z", false},
		{"descriptor", "@daily", "2026-11-27T01:05:00Z", "2026-11-28T00:00:00Z", false},
		{"time zone prefix", "CRON_TZ=Europe/Paris 0 2 * * *", "2026-11-27T00:00:00Z", "2026-11-27T01:00:00Z", false},
		{"six fields", "0 0 2 * * *", "", "", true},
		{"garbage", "nightly please", "", "", true},
		{"minute out of range", "61 2 * * *", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.spec, nil)
			if tc.err {
				if !errors.Is(err, ErrSpec) {
					t.Fatalf("err %v, want ErrSpec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Next(at(tc.after)); !got.Equal(at(tc.next)) {
				t.Errorf("Next(%s) = %s, want %s", tc.after, got, tc.next)
			}
		})
	}
}

func TestDue(t *testing.T) {
	daily, _ := Parse(DefaultSpec, nil)
	for _, tc := range []struct {
		name      string
		last, now string // last "" = never ran
		firstRun  bool
		slot      string // "" = nothing owed
		missed    int
	}{
		{"before tonight's slot", "2026-11-26T02:00:00Z", "2026-11-27T01:59:59Z", false, "", 0},
		{"exactly at the slot", "2026-11-26T02:00:00Z", "2026-11-27T02:00:00Z", false, "2026-11-27T02:00:00Z", 1},
		{"slot already done", "2026-11-27T02:00:00Z", "2026-11-27T09:00:00Z", false, "", 0},
		{"down three nights: one run for the latest", "2026-11-24T02:00:00Z", "2026-11-27T10:00:00Z", false, "2026-11-27T02:00:00Z", 3},
		{"down over the slot, back before the next", "2026-11-25T02:00:00Z", "2026-11-26T23:00:00Z", false, "2026-11-26T02:00:00Z", 1},
		{"never ran waits for the next slot", "", "2026-11-27T10:00:00Z", false, "", 0},
		{"never ran with first run", "", "2026-11-27T10:00:00Z", true, "2026-11-27T02:00:00Z", 1},
		{"record in the future (clock moved back)", "2026-11-28T02:00:00Z", "2026-11-27T10:00:00Z", false, "", 0},
		{"ancient record still one run", "2019-01-01T02:00:00Z", "2026-11-27T10:00:00Z", false, "2026-11-27T02:00:00Z", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last time.Time
			if tc.last != "" {
				last = at(tc.last)
			}
			slot, missed, ok := Due(daily, last, at(tc.now), tc.firstRun)
			if ok != (tc.slot != "") {
				t.Fatalf("ok %v (slot %s), want slot %q", ok, slot, tc.slot)
			}
			if !ok {
				return
			}
			if !slot.Equal(at(tc.slot)) || missed != tc.missed {
				t.Errorf("slot %s missed %d, want %s missed %d", slot, missed, tc.slot, tc.missed)
			}
		})
	}
}

// fakeClock is a Clock that only moves when told to.
type fakeClock struct {
	mu      sync.Mutex
	cond    *sync.Cond
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	c  chan time.Time
}

func newFakeClock(now time.Time) *fakeClock {
	c := &fakeClock{now: now}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	c.cond.Broadcast()
	return ch
}

// Advance moves the clock and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.c <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// waitSleeping blocks until the scheduler sleeps on the clock, i.e. it
// finished whatever the last Advance made due.
func (c *fakeClock) waitSleeping(t *testing.T) time.Time {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.waiters) == 0 {
		c.cond.Wait()
	}
	return c.waiters[0].at
}

// recorder is a Job that records its runs.
type recorder struct {
	mu   sync.Mutex
	runs []Run
	fail int // fail this many calls first
}

func (r *recorder) job(_ context.Context, run Run) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.runs = append(r.runs, run)
	if r.fail > 0 {
		r.fail--
		return errors.New("job failed")
	}
	return nil
}

func (r *recorder) get() []Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Run(nil), r.runs...)
}

func start(t *testing.T, s *Scheduler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	})
}

func TestSchedulerCatchesUpOnce(t *testing.T) {
	clock := newFakeClock(at("2026-11-27T10:00:00Z"))
	state := &MemoryState{}
	state.SetLastRun(context.Background(), at("2026-11-24T02:00:00Z")) // down since the 24th
	rec := &recorder{}
	s, err := New(Config{Clock: clock, MaxSleep: 24 * time.Hour}, state, rec.job)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)

	wake := clock.waitSleeping(t)
	runs := rec.get()
	if len(runs) != 1 {
		t.Fatalf("after three missed nights: %d runs, want exactly 1", len(runs))
	}
	if r := runs[0]; !r.Slot.Equal(at("2026-11-27T02:00:00Z")) || r.Missed != 3 || r.Manual {
		t.Errorf("catch-up run %+v, want slot 27th 02:00, missed 3", r)
	}
	if last, _ := state.LastRun(context.Background()); !last.Equal(at("2026-11-27T02:00:00Z")) {
		t.Errorf("recorded %s", last)
	}
	if !wake.Equal(at("2026-11-28T02:00:00Z")) {
		t.Errorf("sleeps until %s, want the 28th 02:00", wake)
	}

	// Through the next two nights, an hour at a time: one run per night.
	for range 40 {
		clock.Advance(time.Hour)
		clock.waitSleeping(t)
	}
	runs = rec.get()
	if len(runs) != 3 {
		t.Fatalf("%d runs after two more nights, want 3", len(runs))
	}
	for i, want := range []string{"2026-11-28T02:00:00Z", "2026-11-29T02:00:00Z"} {
		if r := runs[i+1]; !r.Slot.Equal(at(want)) || r.Missed != 1 || !r.Started.Equal(at(want)) {
			t.Errorf("run %d %+v, want on time at %s", i+1, r, want)
		}
	}
}

func TestSchedulerFirstRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		firstRun bool
		runs     int
	}{
		{"waits for the night", false, 0},
		{"runs at once", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(at("2026-11-27T10:00:00Z"))
			rec := &recorder{}
			s, err := New(Config{Clock: clock, FirstRun: tc.firstRun}, &MemoryState{}, rec.job)
			if err != nil {
				t.Fatal(err)
			}
			start(t, s)
			clock.waitSleeping(t)
			if n := len(rec.get()); n != tc.runs {
				t.Errorf("%d runs at start, want %d", n, tc.runs)
			}
		})
	}
}

func TestSchedulerRetriesFailedRun(t *testing.T) {
	clock := newFakeClock(at("2026-11-27T01:00:00Z"))
	state := &MemoryState{}
	state.SetLastRun(context.Background(), at("2026-11-26T02:00:00Z"))
	rec := &recorder{fail: 1}
	var errs []error
	var mu sync.Mutex
	s, err := New(Config{Clock: clock, Retry: 10 * time.Minute, OnRun: func(_ Run, err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}}, state, rec.job)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	clock.waitSleeping(t)
	clock.Advance(time.Hour) // 02:00: fails
	if wake := clock.waitSleeping(t); !wake.Equal(at("2026-11-27T02:10:00Z")) {
		t.Fatalf("after a failure sleeps until %s, want the retry at 02:10", wake)
	}
	if last, _ := state.LastRun(context.Background()); !last.Equal(at("2026-11-26T02:00:00Z")) {
		t.Errorf("failed run recorded: %s", last)
	}
	clock.Advance(10 * time.Minute) // retry succeeds
	clock.waitSleeping(t)
	runs := rec.get()
	if len(runs) != 2 || !runs[1].Slot.Equal(at("2026-11-27T02:00:00Z")) {
		t.Fatalf("runs %+v, want the 02:00 slot twice", runs)
	}
	if last, _ := state.LastRun(context.Background()); !last.Equal(at("2026-11-27T02:00:00Z")) {
		t.Errorf("recorded %s after the retry", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 2 || errs[0] == nil || errs[1] != nil {
		t.Errorf("OnRun errors %v, want [failure, nil]", errs)
	}
}

func TestTrigger(t *testing.T) {
	clock := newFakeClock(at("2026-11-27T10:00:00Z"))
	state := &MemoryState{}
	state.SetLastRun(context.Background(), at("2026-11-27T02:00:00Z"))
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var runs []Run
	job := func(_ context.Context, run Run) error {
		runs = append(runs, run)
		entered <- struct{}{}
		<-release
		return nil
	}
	s, err := New(Config{Clock: clock}, state, job)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- s.Trigger(context.Background()) }()
	<-entered
	if err := s.Trigger(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("second trigger during a run: %v, want ErrBusy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].Manual || !runs[0].Slot.Equal(at("2026-11-27T10:00:00Z")) {
		t.Errorf("runs %+v, want one manual run at 10:00", runs)
	}
	if last, _ := state.LastRun(context.Background()); !last.Equal(at("2026-11-27T02:00:00Z")) {
		t.Errorf("manual run moved the record to %s", last)
	}
	if next := s.Next(); !next.Equal(at("2026-11-28T02:00:00Z")) {
		t.Errorf("next %s", next)
	}
}

func TestSchedulerWakesHourly(t *testing.T) {
	// The default MaxSleep: a check every hour however far the next slot
	// is, so a wall clock that jumps forward is noticed within the hour.
	clock := newFakeClock(at("2026-11-27T10:00:00Z"))
	state := &MemoryState{}
	state.SetLastRun(context.Background(), at("2026-11-27T02:00:00Z"))
	rec := &recorder{}
	s, err := New(Config{Clock: clock}, state, rec.job)
	if err != nil {
		t.Fatal(err)
	}
	start(t, s)
	if wake := clock.waitSleeping(t); !wake.Equal(at("2026-11-27T11:00:00Z")) {
		t.Errorf("sleeps until %s, want 11:00", wake)
	}
	clock.Advance(36 * time.Hour) // the clock jumps past the next slot and beyond
	clock.waitSleeping(t)
	if runs := rec.get(); len(runs) != 1 || !runs[0].Slot.Equal(at("2026-11-28T02:00:00Z")) {
		t.Errorf("runs after the jump %+v, want one for the 28th", runs)
	}
}
