package server_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/zoo"
)

// fakeReal plays real episodes that agree with the fake runner (even seeds
// succeed) and records what it was asked.
type fakeReal struct {
	mu    sync.Mutex
	asked map[string][]int64
}

func (f *fakeReal) Play(_ context.Context, _, _ string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string][]int64{}
	}
	f.asked[arm.Name] = append(f.asked[arm.Name], seeds...)
	r := job.RealEpisodes{Arm: arm.Name, Seeds: seeds, Source: "fake"}
	for _, s := range seeds {
		r.Success = append(r.Success, s%2 == 0)
		r.MaxReward = append(r.MaxReward, 1)
	}
	return r, nil
}

func TestRealBudgetCalibratesTheResult(t *testing.T) {
	tests := []struct {
		name string
		real *fakeReal
	}{
		{"with a fleet", &fakeReal{}},
		{"without a fleet", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := servertest.NATS(t, "", 0)
			nc := servertest.Connect(t, e.URL())
			cfg := server.Config{}
			if tc.real != nil {
				cfg.Real = tc.real
			}
			servertest.Server(t, nc, cfg)
			servertest.Workers(t, nc, 2, &servertest.Runner{}, worker.Config{})
			c := jobapi.Client{NC: nc}
			spec := servertest.Spec("a", "b")
			spec.Episodes, spec.SeedsPerTask, spec.RealBudget = 8, 3, 4
			rep, err := c.Submit(ctx(t), spec, "")
			if err != nil {
				t.Fatal(err)
			}
			st := servertest.Wait(t, c, rep.ID, 30*time.Second)
			if st.State != job.Succeeded || st.Reason != "" {
				t.Fatalf("status %+v", st)
			}
			cal := st.Result.Scenarios[0].Calibration
			if cal == nil {
				t.Fatal("no calibration in the result")
			}
			if tc.real == nil {
				if len(cal.Notes) != 1 || len(cal.Estimates) != 0 {
					t.Fatalf("calibration without a fleet %+v", cal)
				}
				return
			}
			for _, arm := range []string{"a", "b"} {
				if got := tc.real.asked[arm]; !slices.Equal(got, []int64{0, 1, 2, 3}) {
					t.Fatalf("real episodes of %s asked for seeds %v, want the first 4", arm, got)
				}
			}
			if len(cal.Estimates) != 2 || cal.Agreement == nil {
				t.Fatalf("calibration %+v", cal)
			}
			for _, est := range cal.Estimates {
				if est.RealBudget != 4 || est.Imagined != 4 || est.ControlVariate.NReal != 4 {
					t.Fatalf("estimate %+v", est)
				}
			}
		})
	}
}

// blockingReal hangs until its context ends: a fleet that never answers.
type blockingReal struct{ asked chan struct{} }

func (b blockingReal) Play(ctx context.Context, _, _ string, _ zoo.Arm, _ []int64) (job.RealEpisodes, error) {
	select {
	case b.asked <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return job.RealEpisodes{}, ctx.Err()
}

// A server stopped while it waits for a job's real episodes leaves the job
// running; the next server asks again and finishes it.
func TestRestartDuringRealPhase(t *testing.T) {
	dir, port := t.TempDir(), servertest.FreePort(t)
	e := servertest.NATS(t, dir, port)
	nc := servertest.Connect(t, e.URL())
	block := blockingReal{asked: make(chan struct{}, 1)}
	s1 := servertest.Server(t, nc, server.Config{Real: block})
	servertest.Workers(t, nc, 1, &servertest.Runner{}, worker.Config{})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a", "b")
	spec.Episodes, spec.RealBudget = 4, 2
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-block.asked:
	case <-time.After(30 * time.Second):
		t.Fatal("the real phase never started")
	}
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx(t), rep.ID)
	if err == nil {
		t.Fatal("status answered with no server running")
	}
	real := &fakeReal{}
	servertest.Server(t, nc, server.Config{Real: real})
	st = servertest.Wait(t, c, rep.ID, 30*time.Second)
	if st.State != job.Succeeded || st.Result.Scenarios[0].Calibration == nil || len(st.Result.Scenarios[0].Calibration.Estimates) != 2 {
		t.Fatalf("after restart: %+v", st)
	}
	if len(real.asked["a"]) != 2 || len(real.asked["b"]) != 2 {
		t.Fatalf("the new server asked for %v", real.asked)
	}
}
