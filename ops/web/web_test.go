package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"dreamrank/evaluator/ranking"
	"dreamrank/ops/report"
)

// memReports is an in-memory Reports.
type memReports struct {
	mu      sync.Mutex
	reports []report.Report
	err     error // returned by every call when set
}

func (m *memReports) Add(r report.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reports = append(m.reports, r)
}

func (m *memReports) sorted() []report.Report {
	out := slices.Clone(m.reports)
	slices.SortFunc(out, func(a, b report.Report) int { return b.Time.Compare(a.Time) })
	return out
}

func (m *memReports) List(context.Context) ([]report.Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	var out []report.Summary
	for _, r := range m.sorted() {
		out = append(out, r.Summary())
	}
	return out, nil
}

func (m *memReports) Latest(context.Context) (report.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return report.Report{}, m.err
	}
	if len(m.reports) == 0 {
		return report.Report{}, ErrNotFound
	}
	return m.sorted()[0], nil
}

func (m *memReports) Get(_ context.Context, id string) (report.Report, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return report.Report{}, m.err
	}
	for _, r := range m.reports {
		if r.ID == id {
			return r, nil
		}
	}
	return report.Report{}, fmt.Errorf("report %q: %w", id, ErrNotFound)
}

// memJobs is an in-memory Jobs.
type memJobs []Job

func (m memJobs) List(context.Context) ([]Job, error) { return m, nil }

// Quotas makes memJobs a Quotas too.
func (m memJobs) Quotas(context.Context) ([]Quota, error) {
	return []Quota{{User: "alice", QueuedTasks: 12, MaxQueuedTasks: 4096, Rollouts: 48, ActiveJobs: 1}}, nil
}

func (m memJobs) Get(_ context.Context, id string) (Job, error) {
	for _, j := range m {
		if j.ID == id {
			return j, nil
		}
	}
	return Job{}, fmt.Errorf("job %q: %w", id, ErrNotFound)
}

// memArtifacts is an in-memory Artifacts.
type memArtifacts map[string][]byte

func (m memArtifacts) Artifact(_ context.Context, name string) ([]byte, error) {
	if b, ok := m[name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("artifact %q: %w", name, ErrNotFound)
}

// memFleet is an in-memory Fleet.
type memFleet []Robot

func (m memFleet) Robots(context.Context) ([]Robot, error) { return m, nil }

// sampleReport is the report ops/report's golden test is built from.
func sampleReport(t testing.TB) report.Report {
	t.Helper()
	data, err := os.ReadFile("../report/testdata/input.json")
	if err != nil {
		t.Fatal(err)
	}
	var in report.Input
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var now = time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)

func testJobs(t testing.TB) memJobs {
	res, err := ranking.Rank([]ranking.Arm{
		{Name: "q5", Success: []bool{true, true, true, false}},
		{Name: "q1", Success: []bool{true, false, false, false}},
	}, ranking.Options{Draws: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return memJobs{
		{ID: "job-2", Name: "zoo on objects", Owner: "alice", State: JobRunning, WorldModel: "objects v3", Arms: []string{"q5", "q1", "q3"},
			Created: now.Add(-time.Hour), Updated: now.Add(-time.Minute), Tasks: 300, Done: 120, Failed: 2, Episodes: 480, ETA: 75 * time.Minute},
		{ID: "job-1", Name: "smoke", Videos: []string{"jobs/job-1/videos/pusht-q5-1.gif"}, State: JobSucceeded, WorldModel: "objects v3", Arms: []string{"q5", "q1"},
			Created: now.Add(-3 * time.Hour), Finished: now.Add(-2 * time.Hour), Tasks: 8, Done: 8,
			Results: []ScenarioResult{{Scenario: "pusht", Ranking: res}}, ReportID: "nightly-2026-11-27"},
		{ID: "job-0", Name: "broken", State: JobFailed, Reason: "world model <objects> unavailable", Created: now.Add(-4 * time.Hour)},
	}
}

func get(t *testing.T, h http.Handler, path string) (int, string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header().Get("Content-Type"), string(body)
}

func TestRoutes(t *testing.T) {
	rep := sampleReport(t)
	older := rep
	older.ID, older.Time = "nightly-2026-11-26", rep.Time.Add(-24*time.Hour)
	reports := &memReports{}
	reports.Add(older)
	reports.Add(rep)
	h := New(Options{Reports: reports, Jobs: testJobs(t), Fleet: memFleet{
		{ID: "pusht-sim-0", Kind: "sim/pusht", State: "busy", Task: "job-2 safety", LastSeen: now.Add(-20 * time.Second), Episodes: 41},
		{ID: "pusht-sim-1", Kind: "sim/pusht", State: "offline", LastSeen: now.Add(-3 * time.Hour)},
	}, Artifacts: memArtifacts{"jobs/job-1/videos/pusht-q5-1.gif": []byte("GIF89a...")},
		Now: func() time.Time { return now }})

	for _, tc := range []struct {
		name, path string
		status     int
		ctype      string
		want       []string
	}{
		{"latest report at the root", "/", 200, "text/html", []string{`<table id="leaderboard">`, "nightly-2026-11-27", `href="/reports/nightly-2026-11-27/report.json"`, `<a href="/jobs">Jobs</a>`, `id="plot-success"`}},
		{"report list newest first", "/reports", 200, "text/html", []string{`<table id="reports">`, `href="/reports/nightly-2026-11-27/"`, `href="/reports/nightly-2026-11-26/"`}},
		{"one report", "/reports/nightly-2026-11-26/", 200, "text/html", []string{`<table id="leaderboard">`, "nightly-2026-11-26"}},
		{"report without slash redirects", "/reports/nightly-2026-11-26", 301, "", nil},
		{"report JSON", "/reports/nightly-2026-11-27/report.json", 200, "application/json", []string{`"schema_version": 1`}},
		{"report Markdown", "/reports/nightly-2026-11-27/report.md", 200, "text/markdown", []string{"## Leaderboard"}},
		{"report plot", "/reports/nightly-2026-11-27/plots/success.svg", 200, "image/svg+xml", []string{"<svg"}},
		{"report preview", "/reports/nightly-2026-11-27/previews/01-q1-100007.gif", 200, "image/gif", []string{"GIF89a"}},
		{"unknown report", "/reports/nope/", 404, "text/html", []string{"Not found"}},
		{"unknown report file", "/reports/nightly-2026-11-27/secrets.txt", 404, "text/html", []string{"Not found"}},
		{"jobs", "/jobs", 200, "text/html", []string{`<table id="jobs">`, `href="/jobs/job-2"`, `<progress max="300" value="120">`, "120/300 (2 failed)", `class="state-failed">failed`, "<td>alice</td>", `<table id="quotas">`, "12 / 4096", "48 / no limit"}},
		{"running job", "/jobs/job-2", 200, "text/html", []string{`<progress id="progress" max="300" value="120">`, "120/300 rollout tasks (40%), 2 failed; 480 episodes; ETA 1h15m0s", "No results yet."}},
		{"finished job with results", "/jobs/job-1", 200, "text/html", []string{"<h2>Results: pusht</h2>", `<table class="results">`, "3/4 = 0.75", `href="/reports/nightly-2026-11-27/"`}},
		{"job videos", "/jobs/job-1", 200, "text/html", []string{"<h2>Rollout videos</h2>", `<img src="/artifacts/jobs/job-1/videos/pusht-q5-1.gif"`}},
		{"a video", "/artifacts/jobs/job-1/videos/pusht-q5-1.gif", 200, "image/gif", []string{"GIF89a"}},
		{"unknown artifact", "/artifacts/jobs/job-1/videos/nope.gif", 404, "text/html", []string{"Not found"}},
		{"failed job escapes its error", "/jobs/job-0", 200, "text/html", []string{"world model &lt;objects&gt; unavailable"}},
		{"unknown job", "/jobs/nope", 404, "text/html", []string{"Not found"}},
		{"fleet", "/fleet", 200, "text/html", []string{`<table id="fleet">`, "pusht-sim-0", "just now", "3 h ago"}},
		{"health", "/healthz", 200, "", []string{"ok"}},
		{"no such page", "/nope", 404, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ctype, body := get(t, h, tc.path)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %.300s", status, tc.status, body)
			}
			if !strings.HasPrefix(ctype, tc.ctype) {
				t.Errorf("content type %q, want %q", ctype, tc.ctype)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("missing %q in %.400s", w, body)
				}
			}
		})
	}
}

func TestEmptyAndMissingBackends(t *testing.T) {
	next := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		opts   Options
		path   string
		status int
		want   string
	}{
		{"no report yet says when", Options{Reports: &memReports{}, NextRun: func() time.Time { return next }}, "/", 200, "next nightly report is due at 2026-11-28 02:00 UTC"},
		{"no reports backend", Options{}, "/", 200, "The reports backend is not configured"},
		{"no jobs backend", Options{}, "/jobs", 200, "The jobs backend is not configured"},
		{"no fleet backend", Options{}, "/fleet", 200, "The fleet backend is not configured"},
		{"empty fleet", Options{Fleet: memFleet{}}, "/fleet", 200, "No robots have joined."},
		{"empty report list", Options{Reports: &memReports{}}, "/reports", 200, "No reports stored yet."},
		{"backend failure is a 500", Options{Reports: &memReports{err: errors.New("kv down")}}, "/reports", 500, "kv down"},
		{"job page without backend", Options{}, "/jobs/x", 404, "Not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := get(t, New(tc.opts), tc.path)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, body %.400s; want %d with %q", status, body, tc.status, tc.want)
			}
		})
	}
}
