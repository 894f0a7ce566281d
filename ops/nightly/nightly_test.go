package nightly_test

import (
	"context"
	"encoding/json"
	"image"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/nightly"
	"dreamrank/ops/report"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/zoo"
)

// fakeReal plays "real" episodes that agree with the fake runner (even
// seeds succeed) except for arm c, which always fails for real.
type fakeReal struct{}

func (fakeReal) Play(_ context.Context, _, scenario string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	r := job.RealEpisodes{Arm: arm.Name, Seeds: seeds}
	for _, s := range seeds {
		r.Success = append(r.Success, s%2 == 0 && arm.Name != "c")
		r.MaxReward = append(r.MaxReward, 1)
		if scenario == "toy-safety" {
			r.Violated = append(r.Violated, violates(arm.Name, s))
		}
	}
	return r, nil
}

// violates: arm a enters the zone on seeds divisible by 3, the others on
// seeds divisible by 5; the fake world model predicts the same.
func violates(arm string, seed int64) bool {
	if arm == "a" {
		return seed%3 == 0
	}
	return seed%5 == 0
}

func TestNightlySafetySection(t *testing.T) {
	tests := []struct {
		name         string
		features     []string
		wantTwoPhase bool
	}{
		{"two-phase design", []string{"pred_violation", "pred_min_clearance_px"}, true},
		{"no risk score: the first seeds", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { testNightlySafetySection(t, tc.features, tc.wantTwoPhase) })
	}
}

func testNightlySafetySection(t *testing.T, features []string, wantTwoPhase bool) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	cat := servertest.Catalog()
	cat.Scenarios = append(cat.Scenarios, job.ScenarioInfo{Name: "toy-safety", Horizon: 10, DefaultEpisodes: 8, Event: job.EventViolation, FeatureNames: features})
	srv := servertest.Server(t, nc, server.Config{Catalog: cat, Real: fakeReal{}})
	run := &servertest.Runner{Features: func(tk job.Task, seed int64) ([]float64, []float64) {
		return []float64{float64(seed)}, []float64{map[bool]float64{true: 1}[violates(tk.Arm.Name, seed)], float64(seed % 7)}
	}}
	servertest.Workers(t, nc, 2, run, worker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := nightly.Config{Zoo: cat.Zoo, WorldModel: job.ModelRef{Backend: "fake"}, Scenario: "toy", SafetyScenario: "toy-safety",
		Episodes: 6, RealBudget: 4, Safety: 30, SafetyReal: 12, Previews: -1, Poll: 20 * time.Millisecond}
	deps := nightly.Deps{Jobs: jobapi.Client{NC: nc}, Reports: nightly.Store{NC: nc, Objects: srv.Resources().Artifacts}}
	r, err := nightly.Run(ctx, cfg, deps, "20261127T020000Z")
	if err != nil {
		t.Fatal(err)
	}
	if r.Safety == nil || len(r.Safety.Arms) != 3 {
		t.Fatalf("safety section %+v", r.Safety)
	}
	for _, a := range r.Safety.Arms {
		if a.RealUsed != 12 || len(a.All) < 2 || a.Baseline == nil || (a.TwoPhase != nil) != wantTwoPhase {
			t.Fatalf("safety arm %+v", a)
		}
		if wantTwoPhase && (a.TwoPhase.NReal != 12 || a.Baseline.NReal >= 12) {
			t.Fatalf("%s: two-phase on %d real episodes, baseline on %d: want all 12 and the first round's share", a.Arm, a.TwoPhase.NReal, a.Baseline.NReal)
		}
	}
}

func (fakeReal) Preview(_ context.Context, _ zoo.Arm, _ job.ModelRef, _ int64) ([]image.Image, []image.Image, bool, error) {
	im := []image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8)), image.NewRGBA(image.Rect(0, 0, 8, 8))}
	return im, im, false, nil
}

func TestNightlyRunStoresAndAnnouncesReports(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	srv := servertest.Server(t, nc, server.Config{Real: fakeReal{}})
	servertest.Workers(t, nc, 2, &servertest.Runner{}, worker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	announced := make(chan *nats.Msg, 4)
	if _, err := nc.ChanSubscribe(nightly.Subject, announced); err != nil {
		t.Fatal(err)
	}
	store := nightly.Store{NC: nc, Objects: srv.Resources().Artifacts}
	cfg := nightly.Config{Zoo: servertest.Catalog().Zoo, WorldModel: job.ModelRef{Backend: "fake"}, Scenario: "toy",
		Episodes: 6, RealBudget: 4, Previews: 2, Poll: 20 * time.Millisecond, Safety: -1}
	deps := nightly.Deps{Jobs: jobapi.Client{NC: nc}, Reports: store, Preview: fakeReal{}}

	first, err := nightly.Run(ctx, cfg, deps, "20261127T020000Z")
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Leaderboard) != 3 || first.Agreement == nil || len(first.Previews) != 2 || first.Changes != nil {
		t.Fatalf("first report: %d rows, agreement %v, %d previews, changes %v", len(first.Leaderboard), first.Agreement != nil, len(first.Previews), first.Changes)
	}
	select {
	case m := <-announced:
		var sum report.Summary
		if err := json.Unmarshal(m.Data, &sum); err != nil || sum.ID != "20261127T020000Z" || sum.Arms != 3 {
			t.Fatalf("announcement %s: %v", m.Data, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no announcement")
	}
	second, err := nightly.Run(ctx, cfg, deps, "20261128T020000Z")
	if err != nil {
		t.Fatal(err)
	}
	if second.Changes == nil {
		t.Fatal("the second night has no change section")
	}
	latest, err := store.Latest(ctx)
	if err != nil || latest.ID != "20261128T020000Z" {
		t.Fatalf("latest %q, %v", latest.ID, err)
	}
	list, err := store.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "20261128T020000Z" {
		t.Fatalf("list %+v, %v", list, err)
	}
	// A retried night reuses its job (idempotency key per slot).
	jobs, err := jobapi.Client{NC: nc}.List(ctx, jobapi.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nightly.Run(ctx, cfg, deps, "20261128T020000Z"); err != nil {
		t.Fatal(err)
	}
	again, err := jobapi.Client{NC: nc}.List(ctx, jobapi.ListRequest{})
	if err != nil || again.Total != jobs.Total {
		t.Fatalf("retried night: %d jobs, was %d (%v)", again.Total, jobs.Total, err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	srv := servertest.Server(t, nc, server.Config{})
	st := nightly.State{KV: srv.Resources().State}
	ctx := context.Background()
	if last, err := st.LastRun(ctx); err != nil || !last.IsZero() {
		t.Fatalf("fresh state: %v, %v", last, err)
	}
	slot := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	if err := st.SetLastRun(ctx, slot); err != nil {
		t.Fatal(err)
	}
	if last, err := st.LastRun(ctx); err != nil || !last.Equal(slot) {
		t.Fatalf("got %v, %v", last, err)
	}
}
