package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestJobRunsToCompletion(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	run := &servertest.Runner{Succeeds: func(arm string, seed int64) bool { return arm == "a" || seed < 1 }}
	servertest.Workers(t, nc, 2, run, worker.Config{})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a", "b")
	spec.Episodes, spec.SeedsPerTask = 6, 4 // 2 tasks per arm
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tasks != 4 || rep.State == "" {
		t.Fatalf("submit reply %+v", rep)
	}
	st := servertest.Wait(t, c, rep.ID, 30*time.Second)
	if st.State != job.Succeeded || st.Done != 4 || st.Failed != 0 || st.Episodes != 12 {
		t.Fatalf("status %+v", st)
	}
	if st.Result == nil || len(st.Result.Scenarios) != 1 {
		t.Fatalf("result %+v", st.Result)
	}
	arms := st.Result.Scenarios[0].Ranking.Arms
	if len(arms) != 2 || arms[0].Name != "a" || arms[0].Episodes != 6 || arms[0].SuccessRate != 1 ||
		arms[1].SuccessRate != 1.0/6 {
		t.Fatalf("ranking arms %+v", arms)
	}
	for i := range 4 {
		if n := run.Runs(rep.ID, i); n != 1 {
			t.Errorf("task %d ran %d times", i, n)
		}
	}
	list, err := c.List(ctx(t), jobapi.ListRequest{})
	if err != nil || list.Total != 1 || list.Jobs[0].ID != rep.ID {
		t.Fatalf("list %+v, %v", list, err)
	}
}

func TestIdempotencyKey(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a")
	first, err := c.Submit(ctx(t), spec, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Submit(ctx(t), spec, "key-1")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || !again.Existing || first.Existing {
		t.Fatalf("first %s (existing %v), again %s (existing %v)", first.ID, first.Existing, again.ID, again.Existing)
	}
	spec.IdempotencyKey = "key-1" // same key in the spec, same spec otherwise
	if r, err := c.Submit(ctx(t), spec, ""); err != nil || r.ID != first.ID {
		t.Fatalf("key in spec: %+v, %v", r, err)
	}
	other := servertest.Spec("b")
	if _, err := c.Submit(ctx(t), other, "key-1"); !errors.Is(err, errcode.Conflict) {
		t.Fatalf("same key, other spec: %v, want conflict", err)
	}
	if r, err := c.Submit(ctx(t), spec, "key-2"); err != nil || r.ID == first.ID {
		t.Fatalf("new key: %+v, %v", r, err)
	}
}

func TestBadInput(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	c := jobapi.Client{NC: nc}
	valid := `{"version":1,"policies":[{"arm":"a"}],"world_model":{"backend":"fake"},"scenarios":["toy"]}`
	tests := []struct {
		name string
		spec string
		want errcode.Code
	}{
		{"malformed JSON", `{"version":1,`, errcode.BadSpec},
		{"malformed YAML", "version: 1\npolicies: [\n", errcode.BadSpec},
		{"unknown JSON field", strings.Replace(valid, `"version":1`, `"version":1,"epsiodes":3`, 1), errcode.BadSpec},
		{"unknown YAML field", "version: 1\nworld_model: {backend: fake, checkpont: x}\npolicies: [{arm: a}]\n", errcode.BadSpec},
		{"wrong version", strings.Replace(valid, `"version":1`, `"version":7`, 1), errcode.BadSpec},
		{"empty", "", errcode.BadSpec},
		{"a million episodes", strings.Replace(valid, `"version":1`, `"version":1,"episodes":1000000`, 1), errcode.TooLarge},
		{"negative episodes", strings.Replace(valid, `"version":1`, `"version":1,"episodes":-3`, 1), errcode.BadSpec},
		{"negative seeds per task", strings.Replace(valid, `"version":1`, `"version":1,"seeds_per_task":-1`, 1), errcode.BadSpec},
		{"spec over the limit", valid[:len(valid)-1] + `,"name":"` + strings.Repeat("x", 300<<10) + `"}`, errcode.TooLarge},
		{"spec over the bus payload", strings.Repeat(" ", 2<<20) + valid, errcode.TooLarge},
		{"unknown arm", strings.Replace(valid, `"arm":"a"`, `"arm":"nope"`, 1), errcode.UnknownPolicy},
		{"unknown backend", strings.Replace(valid, `{"arm":"a"}`, `{"name":"x","backend":"nope"}`, 1), errcode.UnknownPolicy},
		{"unknown model", strings.Replace(valid, `"backend":"fake"}`, `"backend":"nope"}`, 1), errcode.UnknownModel},
		{"unknown scenario", strings.Replace(valid, `["toy"]`, `["mars"]`, 1), errcode.UnknownScenario},
		{"unknown judge", strings.Replace(valid, `"version":1`, `"version":1,"judge":"nope"`, 1), errcode.UnknownJudge},
		{"bad priority", strings.Replace(valid, `"version":1`, `"version":1,"priority":"urgent"`, 1), errcode.BadSpec},
		{"past deadline", strings.Replace(valid, `"version":1`, `"version":1,"deadline":"2001-01-01T00:00:00Z"`, 1), errcode.BadSpec},
		{"no policies", strings.Replace(valid, `[{"arm":"a"}]`, `[]`, 1), errcode.BadSpec},
		{"arm listed twice", strings.Replace(valid, `[{"arm":"a"}]`, `[{"arm":"a"},{"arm":"a"}]`, 1), errcode.BadSpec},
		{"world-model draws on a scenario without features", strings.Replace(valid, `"backend":"fake"}`, `"backend":"fake","draws":3}`, 1), errcode.BadSpec},
		{"too many world-model draws", strings.Replace(valid, `"backend":"fake"}`, `"backend":"fake","draws":1000}`, 1), errcode.TooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.SubmitRaw(ctx(t), []byte(tc.spec), "")
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want code %s", err, tc.want)
			}
			if len(err.Error()) < len(tc.want)+3 {
				t.Errorf("error %q says nothing beyond its code", err)
			}
		})
	}
	// The server keeps serving.
	if _, err := c.SubmitRaw(ctx(t), []byte(valid), ""); err != nil {
		t.Fatalf("valid spec after bad ones: %v", err)
	}
	if _, err := c.Status(ctx(t), "no-such-job"); !errors.Is(err, errcode.JobNotFound) {
		t.Fatalf("status of a missing job: %v", err)
	}
	if _, err := c.Cancel(ctx(t), "", ""); !errors.Is(err, errcode.JobNotFound) {
		t.Fatalf("cancel without id: %v", err)
	}
	raw, err := nc.Request(jobapi.SubjectStatus, []byte("{"), 5*time.Second)
	if err != nil || raw.Header.Get("Nats-Service-Error-Code") != string(errcode.BadRequest) {
		t.Fatalf("malformed status request: %v, headers %v", err, raw.Header)
	}
}

func TestCancelStopsDispatch(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	s := servertest.Server(t, nc, server.Config{})
	started := make(chan job.Task, 100)
	run := &servertest.Runner{Hook: func(ctx context.Context, tk job.Task) error {
		started <- tk
		<-ctx.Done() // block until the worker stops
		return ctx.Err()
	}}
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a", "b", "c")
	spec.Episodes, spec.SeedsPerTask = 4, 1 // 12 tasks
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	stop := servertest.Workers(t, nc, 1, run, worker.Config{})
	<-started
	st, err := c.Cancel(ctx(t), rep.ID, "changed my mind")
	if err != nil {
		t.Fatal(err)
	}
	if st.State != job.Canceled || !strings.Contains(st.Reason, "changed my mind") {
		t.Fatalf("cancel reply %+v", st)
	}
	stop()
	info, err := s.Resources().Tasks.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs > 1 { // at most the one task in flight, naked back on stop
		t.Fatalf("%d tasks still queued after cancel", info.State.Msgs)
	}
	if run.TotalRuns() != 1 {
		t.Fatalf("%d tasks ran after cancel", run.TotalRuns())
	}
	// A second cancel is harmless and the state stays.
	if st, err := c.Cancel(ctx(t), rep.ID, ""); err != nil || st.State != job.Canceled {
		t.Fatalf("second cancel: %+v, %v", st, err)
	}
}

func TestDeadlineExpiresJob(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{ExpireEvery: 50 * time.Millisecond})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a")
	spec.Deadline = "300ms" // no workers: it cannot finish
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Wait(t, c, rep.ID, 10*time.Second)
	if st.State != job.Expired {
		t.Fatalf("state %s, want expired", st.State)
	}
}

func TestPoisonTaskFailsAfterAttempts(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	run := &servertest.Runner{Hook: func(_ context.Context, tk job.Task) error {
		if tk.Arm.Name == "b" {
			return errors.New("backend crashed")
		}
		return nil
	}}
	servertest.Workers(t, nc, 2, run, worker.Config{MaxAttempts: 3})
	c := jobapi.Client{NC: nc}
	rep, err := c.Submit(ctx(t), servertest.Spec("a", "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Wait(t, c, rep.ID, 30*time.Second)
	if st.State != job.Failed || st.Done != 2 || st.Failed != 1 {
		t.Fatalf("status %+v", st)
	}
	f := st.Result.FailedTasks
	if len(f) != 1 || f[0].Arm != "b" || f[0].Attempts != 3 || !strings.Contains(f[0].Message, "backend crashed") {
		t.Fatalf("failed tasks %+v", f)
	}
	if n := run.Runs(rep.ID, 1); n != 3 {
		t.Fatalf("poison task ran %d times, want 3", n)
	}
	if arms := st.Result.Scenarios[0].Ranking.Arms; len(arms) != 1 || arms[0].Name != "a" {
		t.Fatalf("ranking %+v", arms)
	}
}

func TestMetrics(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	s := servertest.Server(t, nc, server.Config{})
	servertest.Workers(t, nc, 1, &servertest.Runner{}, worker.Config{})
	c := jobapi.Client{NC: nc}
	rep, err := c.Submit(ctx(t), servertest.Spec("a", "b"), "")
	if err != nil {
		t.Fatal(err)
	}
	servertest.Wait(t, c, rep.ID, 30*time.Second)
	if _, err := c.SubmitRaw(ctx(t), []byte("{"), ""); err == nil {
		t.Fatal("bad spec accepted")
	}
	var b strings.Builder
	if err := s.WriteMetrics(ctx(t), &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"dreamrank_jobs_submitted_total 1\n",
		"dreamrank_tasks_dispatched_total 2\n",
		"dreamrank_outcomes_counted_total 2\n",
		`dreamrank_submissions_rejected_total{code="bad_spec"} 1` + "\n",
		`dreamrank_jobs_finished_total{state="succeeded"} 1` + "\n",
		"dreamrank_jobs_active 0\n",
		`dreamrank_tasks_queued{priority="normal"} 0` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

func TestHighPriorityRunsFirst(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	c := jobapi.Client{NC: nc}
	low := servertest.Spec("a")
	low.Priority, low.Episodes, low.SeedsPerTask = job.PriorityLow, 8, 1
	lowRep, err := c.Submit(ctx(t), low, "")
	if err != nil {
		t.Fatal(err)
	}
	high := servertest.Spec("b")
	high.Priority, high.Episodes, high.SeedsPerTask = job.PriorityHigh, 2, 1
	highRep, err := c.Submit(ctx(t), high, "")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	var mu sync.Mutex
	run := &servertest.Runner{Hook: func(_ context.Context, tk job.Task) error {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, tk.Job)
		return nil
	}}
	servertest.Workers(t, nc, 1, run, worker.Config{})
	servertest.Wait(t, c, lowRep.ID, 30*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 10 || order[0] != highRep.ID || order[1] != highRep.ID {
		t.Fatalf("run order %v: the high-priority job's 2 tasks should run first", order)
	}
}
