package jobapi_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server/servertest"
)

// Without a job server a call fails at once with unavailable (NATS's no
// responders), for the operator's subjects and a user's alike, with or
// without a deadline.
func TestNoServer(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	withDeadline, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name string
		c    jobapi.Client
		ctx  context.Context
	}{
		{"operator", jobapi.Client{NC: nc}, withDeadline},
		{"user", jobapi.Client{NC: nc, User: "alice"}, withDeadline},
		{"no deadline", jobapi.Client{NC: nc, User: "alice"}, context.Background()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			if _, err := tt.c.List(tt.ctx, jobapi.ListRequest{}); !errors.Is(err, errcode.Unavailable) {
				t.Fatalf("err %v, want unavailable", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		name, user, want string
	}{
		{"a user's submit", "alice", "dreamrank.jobs.user.alice.submit"},
		{"another user's", "bob-2", "dreamrank.jobs.user.bob-2.submit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobapi.UserSubject(tt.user, "submit"); got != tt.want {
				t.Fatalf("%s, want %s", got, tt.want)
			}
			if err := jobapi.ValidUser(tt.user); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, bad := range []string{"", "a.b", "*", ">", "a b", string(make([]byte, 65))} {
		if jobapi.ValidUser(bad) == nil {
			t.Errorf("user %q accepted", bad)
		}
	}
}
