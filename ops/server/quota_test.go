package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
)

// Each submitter's quota of queued tasks and imagined rollouts in flight:
// a job beyond it is refused with quota_exceeded and changes nothing, what
// is already queued runs to the end, other users keep their own quota, and
// a finished job frees its share.
func TestQuota(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	srv := servertest.Server(t, nc, server.Config{Quota: server.Quota{MaxQueuedTasks: 4, MaxRollouts: 12},
		Quotas: map[string]server.Quota{"carol": {MaxQueuedTasks: 1}}})
	alice, bob, carol := jobapi.Client{NC: nc, User: "alice"}, jobapi.Client{NC: nc, User: "bob"}, jobapi.Client{NC: nc, User: "carol"}
	operator := jobapi.Client{NC: nc}
	two := servertest.Spec("a", "b") // 2 tasks of 4 seeds: 8 rollouts
	many := servertest.Spec("a", "b", "c")
	many.SeedsPerTask = 1 // 12 tasks, 12 rollouts

	first, err := alice.Submit(ctx(t), two, "")
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name   string
		c      jobapi.Client
		spec   job.Spec
		saying string
	}{
		{"rollouts beyond the quota", alice, two, "imagined rollouts in flight"},
		{"tasks beyond the quota", alice, many, "tasks queued or running"},
		{"a user's own quota", carol, two, "user carol has 0 tasks queued or running, this job adds 2, limit 1"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Submit(ctx(t), tt.spec, "")
			if !errors.Is(err, errcode.QuotaExceeded) || !strings.Contains(err.Error(), tt.saying) {
				t.Fatalf("err %v, want quota_exceeded saying %q", err, tt.saying)
			}
			if !errcode.CodeOf(err).Retryable() {
				t.Error("quota_exceeded should be retryable")
			}
		})
	}
	if _, err := bob.Submit(ctx(t), two, ""); err != nil {
		t.Fatalf("bob has his own quota: %v", err)
	}
	l, err := alice.List(ctx(t), jobapi.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := jobapi.Quota{User: "alice", QueuedTasks: 2, MaxQueuedTasks: 4, Rollouts: 8, MaxRollouts: 12, ActiveJobs: 1}
	if l.Total != 1 || l.Quota == nil || *l.Quota != want {
		t.Fatalf("alice's list: %d jobs, quota %+v, want %+v", l.Total, l.Quota, want)
	}
	all, err := operator.List(ctx(t), jobapi.ListRequest{})
	if err != nil || all.Total != 2 || len(all.Quotas) != 3 || all.Quotas[0].User != "alice" || all.Quotas[1].User != "bob" || all.Quotas[2].MaxQueuedTasks != 1 {
		t.Fatalf("the operator's list: %+v, %v", all, err)
	}
	var metrics strings.Builder
	if err := srv.WriteMetrics(ctx(t), &metrics); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`dreamrank_user_tasks_queued{user="alice"} 2`, `dreamrank_user_rollouts_limit{user="alice"} 12`,
		`dreamrank_submissions_rejected_total{code="quota_exceeded"} 3`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics.String())
		}
	}
	// Nothing already queued was lost: the refused jobs added no tasks.
	if info, err := srv.Resources().Tasks.Info(ctx(t)); err != nil || info.State.Msgs != 4 {
		t.Fatalf("queued tasks %v, %v; want alice's 2 and bob's 2", info.State.Msgs, err)
	}

	run := &servertest.Runner{}
	servertest.Workers(t, nc, 2, run, worker.Config{})
	st := servertest.Wait(t, alice, first.ID, 30*time.Second)
	if st.State != job.Succeeded || st.Done != 2 || st.Episodes != 8 {
		t.Fatalf("alice's first job after the refusals: %+v", st)
	}
	if u := srv.Usage("alice"); u.QueuedTasks != 0 || u.Rollouts != 0 || u.ActiveJobs != 0 {
		t.Fatalf("alice's use after her job: %+v", u)
	}
	if _, err := alice.Submit(ctx(t), two, ""); err != nil {
		t.Fatalf("alice's retry once her job finished: %v", err)
	}
}

// Idempotency keys are per user: the same key from two users makes two
// jobs, and nobody learns of another's job through a key.
func TestIdempotencyKeysPerUser(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	alice, bob := jobapi.Client{NC: nc, User: "alice"}, jobapi.Client{NC: nc, User: "bob"}
	a, err := alice.Submit(ctx(t), servertest.Spec("a"), "nightly")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bob.Submit(ctx(t), servertest.Spec("a"), "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == b.ID || b.Existing || b.Owner != "bob" {
		t.Fatalf("bob's submission with alice's key: %+v (alice's job %s)", b, a.ID)
	}
	again, err := alice.Submit(ctx(t), servertest.Spec("a"), "nightly")
	if err != nil || again.ID != a.ID || !again.Existing {
		t.Fatalf("alice's retry: %+v, %v", again, err)
	}
}
