package server_test

import (
	"context"
	"slices"
	"strings"
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
// succeed) and records what it was asked, call by call.
type fakeReal struct {
	mu    sync.Mutex
	calls map[string][][]int64
	// block, when set, makes every call from the nth on (by 1) hang until
	// its context ends, after sending its seeds on asked.
	block int
	asked chan []int64
	n     int
}

func (f *fakeReal) Play(ctx context.Context, _, _ string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string][][]int64{}
	}
	f.n++
	if f.block > 0 && f.n >= f.block {
		f.mu.Unlock()
		select {
		case f.asked <- slices.Clone(seeds):
		default:
		}
		<-ctx.Done()
		return job.RealEpisodes{}, ctx.Err()
	}
	defer f.mu.Unlock()
	f.calls[arm.Name] = append(f.calls[arm.Name], slices.Clone(seeds))
	r := job.RealEpisodes{Arm: arm.Name, Seeds: seeds, Source: "fake"}
	for _, s := range seeds {
		r.Success = append(r.Success, s%2 == 0)
		r.MaxReward = append(r.MaxReward, 1)
	}
	return r, nil
}

// asked is every seed arm was asked for, in order.
func (f *fakeReal) played(arm string) []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	for _, c := range f.calls[arm] {
		out = append(out, c...)
	}
	return out
}

// rounds is the seeds of each call for arm.
func (f *fakeReal) rounds(arm string) [][]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls[arm])
}

// lateSuccess: the world model predicts success from seed 20 on, so a
// two-phase design must play seeds beyond the first real budget.
func lateSuccess(_ string, seed int64) bool { return seed >= 20 }

func TestRealBudgetCalibratesTheResult(t *testing.T) {
	tests := []struct {
		name                  string
		real                  *fakeReal
		episodes, budget      int
		wantRounds, wantShare int
	}{
		{"with a fleet: two rounds over 5 strata", &fakeReal{}, 40, 16, 2, 10},
		{"with a fleet: one stratum", &fakeReal{}, 8, 4, 2, 2},
		{"without a fleet", nil, 8, 4, 0, 0},
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
			servertest.Workers(t, nc, 2, &servertest.Runner{Succeeds: lateSuccess}, worker.Config{})
			c := jobapi.Client{NC: nc}
			spec := servertest.Spec("a", "b")
			spec.Episodes, spec.SeedsPerTask, spec.RealBudget = tc.episodes, 3, tc.budget
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
			first := make([]int64, tc.budget)
			for i := range first {
				first[i] = int64(i)
			}
			for _, arm := range []string{"a", "b"} {
				got := tc.real.played(arm)
				sorted := slices.Sorted(slices.Values(got))
				if len(slices.Compact(slices.Clone(sorted))) != len(got) {
					t.Fatalf("%s: a seed played twice: %v", arm, got)
				}
				if len(got) != tc.budget || len(tc.real.rounds(arm)) != tc.wantRounds {
					t.Fatalf("%s: %d seeds in %d calls %v, want %d in %d rounds", arm, len(got), len(tc.real.rounds(arm)), tc.real.rounds(arm), tc.budget, tc.wantRounds)
				}
				if tc.budget < tc.episodes/2 && slices.Equal(sorted, first) {
					t.Fatalf("%s: the design played the first %d seeds %v though the world model predicts success only from seed 20", arm, tc.budget, got)
				}
			}
			if len(cal.Estimates) != 2 || cal.Agreement == nil {
				t.Fatalf("calibration %+v", cal)
			}
			for _, est := range cal.Estimates {
				switch {
				case est.RealBudget != tc.budget || est.TwoPhase == nil || est.TwoPhase.NReal != tc.budget || est.TwoPhase.NImagined != tc.episodes:
					t.Fatalf("estimate %+v (notes %v)", est, cal.Notes)
				case est.Design == nil || len(est.Design.Share) != tc.wantShare || est.ControlVariate.NReal != tc.wantShare:
					t.Fatalf("control variate on %d real episodes, design %+v: want the share of %d", est.ControlVariate.NReal, est.Design, tc.wantShare)
				}
			}
		})
	}
}

// A server stopped while it waits for a job's real episodes leaves the job
// running; the next server asks again, the rounds already played with the
// same seeds (Play is idempotent), and finishes it on the seeds the first
// one would have played.
func TestRestartDuringRealPhase(t *testing.T) {
	tests := []struct {
		name  string
		block int // the first server's Play call that hangs
	}{
		{"stopped in round 1", 1},
		{"stopped in round 2", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, port := t.TempDir(), servertest.FreePort(t)
			e := servertest.NATS(t, dir, port)
			nc := servertest.Connect(t, e.URL())
			first := &fakeReal{block: tc.block, asked: make(chan []int64, 1)}
			s1 := servertest.Server(t, nc, server.Config{Real: first})
			servertest.Workers(t, nc, 1, &servertest.Runner{Succeeds: lateSuccess}, worker.Config{})
			c := jobapi.Client{NC: nc}
			spec := servertest.Spec("a", "b")
			spec.Episodes, spec.SeedsPerTask, spec.RealBudget = 40, 10, 16
			rep, err := c.Submit(ctx(t), spec, "")
			if err != nil {
				t.Fatal(err)
			}
			var hung []int64
			select {
			case hung = <-first.asked:
			case <-time.After(30 * time.Second):
				t.Fatal("the real phase never reached the call that hangs")
			}
			if st, err := c.Status(ctx(t), rep.ID); err != nil || !strings.HasPrefix(st.Reason, "real episodes, round ") {
				t.Fatalf("status during the real phase %+v, %v", st, err)
			}
			if err := s1.Stop(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Status(ctx(t), rep.ID); err == nil {
				t.Fatal("status answered with no server running")
			}
			second := &fakeReal{}
			servertest.Server(t, nc, server.Config{Real: second})
			st := servertest.Wait(t, c, rep.ID, 30*time.Second)
			if st.State != job.Succeeded || st.Result.Scenarios[0].Calibration == nil || len(st.Result.Scenarios[0].Calibration.Estimates) != 2 {
				t.Fatalf("after restart: %+v", st)
			}
			// The second server repeats the first one's calls, then the
			// one that hung, with the same seeds.
			var before [][]int64
			for _, arm := range []string{"a", "b"} {
				before = append(before, first.rounds(arm)...)
			}
			var after [][]int64
			for r := range 2 {
				for _, arm := range []string{"a", "b"} {
					if rs := second.rounds(arm); r < len(rs) {
						after = append(after, rs[r])
					}
				}
			}
			want := append(slices.Clone(before), hung)
			if len(after) < len(want) || !slices.EqualFunc(after[:len(want)], want, slices.Equal[[]int64]) {
				t.Fatalf("the second server asked %v, the first %v and then %v", after, before, hung)
			}
			for i, est := range st.Result.Scenarios[0].Calibration.Estimates {
				arm := []string{"a", "b"}[i]
				if !slices.EqualFunc(est.Design.Rounds, second.rounds(arm), slices.Equal[[]int64]) || est.TwoPhase == nil {
					t.Fatalf("%s: design %+v, played %v", arm, est.Design, second.rounds(arm))
				}
				if got := second.played(arm); len(got) != 16 || len(slices.Compact(slices.Sorted(slices.Values(got)))) != 16 {
					t.Fatalf("%s: the second server played %v, want 16 distinct seeds", arm, got)
				}
			}
		})
	}
}

// violations plays safety episodes: seed s violates when s%3 != 0.
type violations struct{}

func (violations) Play(_ context.Context, _, _ string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	r := job.RealEpisodes{Arm: arm.Name, Seeds: seeds, Source: "fake"}
	for _, s := range seeds {
		r.Success, r.MaxReward, r.Violated = append(r.Success, false), append(r.MaxReward, 0), append(r.Violated, s%3 != 0)
	}
	return r, nil
}

// A safety job with world-model draws: its plan's feature names (per job)
// reach the workers' tasks, the aggregation and the design, whose prior
// comes from the ensemble, and the result records the draws.
func TestRealBudgetWithDraws(t *testing.T) {
	tests := []struct {
		name  string
		draws int
	}{
		{"without draws", 0},
		{"with 3 draws", 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := servertest.NATS(t, "", 0)
			nc := servertest.Connect(t, e.URL())
			cat := servertest.Catalog()
			cat.Scenarios = append(cat.Scenarios, job.ScenarioInfo{Name: "safe", Horizon: 10, DefaultEpisodes: 4, Event: job.EventViolation,
				FeatureNames: []string{"pred_violation", "pred_min_clearance_px"}, EnsembleFeatureNames: []string{"ens_violation", "ens_min_clearance_px"}})
			servertest.Server(t, nc, server.Config{Catalog: cat, Real: violations{}})
			var mu sync.Mutex
			var seen []job.ModelRef
			run := &servertest.Runner{Features: func(tk job.Task, s int64) ([]float64, []float64) {
				mu.Lock()
				seen = append(seen, tk.WorldModel)
				mu.Unlock()
				pred := float64(s % 2) // a lone rollout that agrees with the real outcome half the time
				f := []float64{pred, 40 - 60*pred}
				if tk.WorldModel.Draws > 0 {
					ens := float64(s%3) / 2 // the ensemble: sure of seeds 3k (0), split on 3k+1 (1/2), sure of 3k+2 (1)
					f = append(f, ens, 40-60*ens)
				}
				return []float64{float64(s)}, f
			}}
			servertest.Workers(t, nc, 2, run, worker.Config{})
			c := jobapi.Client{NC: nc}
			spec := servertest.Spec("a")
			spec.Scenarios, spec.Episodes, spec.SeedsPerTask, spec.RealBudget = []string{"safe"}, 60, 20, 30
			spec.WorldModel.Draws = tc.draws
			rep, err := c.Submit(ctx(t), spec, "")
			if err != nil {
				t.Fatal(err)
			}
			st := servertest.Wait(t, c, rep.ID, 30*time.Second)
			if st.State != job.Succeeded {
				t.Fatalf("status %+v", st)
			}
			mu.Lock()
			for _, wm := range seen {
				if wm.Draws != tc.draws || (tc.draws > 0) != (wm.DrawNoise != nil) || wm.DrawNoise != nil && *wm.DrawNoise != job.DefaultDrawNoise {
					t.Fatalf("a task's world model %+v", wm)
				}
			}
			mu.Unlock()
			cal := st.Result.Scenarios[0].Calibration
			if cal == nil || len(cal.Estimates) != 1 {
				t.Fatalf("calibration %+v", cal)
			}
			est := cal.Estimates[0]
			if est.Draws != tc.draws || est.Design == nil || est.Design.Prior != (tc.draws > 0) || est.TwoPhase == nil {
				t.Fatalf("estimate %+v, notes %v", est, cal.Notes)
			}
			if f := st.Result.Scenarios[0].Episodes[0].Features[0]; len(f) != 2+2*min(1, tc.draws) {
				t.Fatalf("features %v", f)
			}
			// The ensemble's split seeds (3k+1) are the uncertain ones: with
			// draws the first round plays more of them than of either sure kind.
			var first [3]int
			for _, s := range est.Design.Rounds[0] {
				first[s%3]++
			}
			t.Logf("first round of %d by seed %% 3: %v; two-phase %.3f [%.3f, %.3f]", len(est.Design.Rounds[0]), first, est.TwoPhase.Estimate, est.TwoPhase.Lo, est.TwoPhase.Hi)
			if tc.draws > 0 && !(first[1] > first[0] && first[1] > first[2]) {
				t.Fatalf("first round by seed %% 3 %v: the split seeds should get the most", first)
			}
		})
	}
}
