// Package web is the HTTP UI of `dreamrank serve`: the latest nightly
// report and every stored one, evaluation jobs (list, progress, results)
// and the fleet's status. Pages are rendered on the server with
// html/template; there is no JavaScript.
//
// The UI reads through three narrow interfaces defined here, Reports, Jobs
// and Fleet, so the server can back them with JetStream (object store, KV,
// streams) and tests with memory. A nil backend shows its pages as "not
// configured" instead of failing. Errors wrapping ErrNotFound become 404s.
//
// Routes (all GET):
//
//	/                         the latest report (or what to expect when there is none)
//	/reports                  stored reports, newest first
//	/reports/{id}/            a report as HTML
//	/reports/{id}/{file...}   its other forms: report.json, report.md, report.html, plots/*.svg, previews/*
//	/jobs, /jobs/{id}         evaluation jobs and one job's progress and results
//	/fleet                    robots and their state
//	/healthz                  200 "ok"
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"dreamrank/evaluator/ranking"
	"dreamrank/ops/report"
)

// ErrNotFound is what backends wrap when an id is unknown (or, for
// Reports.Latest, when there is no report yet).
var ErrNotFound = errors.New("web: not found")

// Reports is the report store the UI reads.
type Reports interface {
	// List describes the stored reports, newest first.
	List(ctx context.Context) ([]report.Summary, error)
	// Latest is the newest report; ErrNotFound when there is none.
	Latest(ctx context.Context) (report.Report, error)
	// Get is the report with this id; ErrNotFound when unknown.
	Get(ctx context.Context, id string) (report.Report, error)
}

// JobState is where a job is in its life; the names are ops/job's.
type JobState string

// Job states.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCanceled  JobState = "canceled"
	JobExpired   JobState = "expired"
)

// Job is an evaluation job as the UI shows it (the server fills it from
// its job status record).
type Job struct {
	ID    string
	Name  string
	State JobState
	// Owner is the submitter ("" for the operator's jobs).
	Owner string
	// Reason says why a job failed, was canceled or expired.
	Reason string
	// WorldModel evaluated in and the arms (policy x steering context).
	WorldModel string
	Arms       []string
	Created    time.Time
	Updated    time.Time
	Finished   time.Time // zero until finished
	// Tasks counts the job's rollout tasks; Done of them finished, Failed
	// of them failed for good. Episodes counts imagined episodes so far.
	Tasks, Done, Failed int
	Episodes            int
	// ETA is the estimated time left (0 when unknown).
	ETA time.Duration
	// Results are the rankings per scenario once the job finished.
	Results []ScenarioResult
	// ReportID links the report made from the job, if any.
	ReportID string
	// Videos are artifact names of rollout videos (GIFs), served under
	// /artifacts/.
	Videos []string
}

// ScenarioResult is a job's ranking of the arms on one scenario.
type ScenarioResult struct {
	Scenario string
	Ranking  ranking.Result
}

// Jobs is the job store the UI reads.
type Jobs interface {
	// List describes jobs, newest first.
	List(ctx context.Context) ([]Job, error)
	// Get is one job; ErrNotFound when unknown.
	Get(ctx context.Context, id string) (Job, error)
}

// Quota is one submitter's limits and use, as the jobs page shows them:
// tasks queued or running and imagined rollouts in flight (a zero Max is
// no limit).
type Quota struct {
	User                        string
	QueuedTasks, MaxQueuedTasks int
	Rollouts, MaxRollouts       int
	ActiveJobs                  int
}

// Quotas is what a Jobs store may also do (checked by type assertion):
// list the submitters' quotas.
type Quotas interface {
	Quotas(ctx context.Context) ([]Quota, error)
}

// jobsPage is the jobs page's data.
type jobsPage struct {
	Jobs   []Job
	Quotas []Quota
}

// Robot is a fleet member as the UI shows it.
type Robot struct {
	ID    string
	Kind  string // e.g. "sim/pusht"
	State string // e.g. "idle", "busy", "offline"
	// Task is what it is doing now, if busy.
	Task     string
	LastSeen time.Time
	Episodes int // episodes recorded so far
}

// Fleet is the fleet registry the UI reads.
type Fleet interface {
	// Robots lists the known robots.
	Robots(ctx context.Context) ([]Robot, error)
}

// Artifacts is the object store the UI serves job videos from.
type Artifacts interface {
	// Artifact is the named object; ErrNotFound when unknown.
	Artifact(ctx context.Context, name string) ([]byte, error)
}

// Options configure the UI; every backend may be nil.
type Options struct {
	Reports   Reports
	Jobs      Jobs
	Fleet     Fleet
	Artifacts Artifacts
	// Title of the site; default "dreamrank".
	Title string
	// NextRun, when set, tells when the next nightly report is due (shown
	// when there is no report yet and on the report list).
	NextRun func() time.Time
	// Now is the clock for relative times; default time.Now.
	Now func() time.Time
}

//go:embed templates/*.tmpl
var templateFS embed.FS

type handler struct {
	opts Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New returns the UI's http.Handler.
func New(opts Options) http.Handler {
	if opts.Title == "" {
		opts.Title = "dreamrank"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{opts: opts, mux: http.NewServeMux()}
	h.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return humanize(opts.Now().Sub(t))
		},
		"pct": func(done, total int) string {
			if total == 0 {
				return "—"
			}
			return fmt.Sprintf("%.0f%%", 100*float64(done)/float64(total))
		},
		"f2":     func(f float64) string { return fmt.Sprintf("%.2f", f) },
		"mul100": func(f float64) float64 { return 100 * f },
		"join":   func(s []string) string { return strings.Join(s, ", ") },
		"base":   path.Base,
		"rows":   leaderboard,
		"dur": func(d time.Duration) string {
			if d <= 0 {
				return "—"
			}
			return d.Round(time.Second).String()
		},
		"ci": func(i ranking.Interval) string {
			return fmt.Sprintf("[%.2f, %.2f]", float64(i.Lo), float64(i.Hi))
		},
	}).ParseFS(templateFS, "templates/*.tmpl"))
	h.mux.HandleFunc("GET /{$}", h.latest)
	h.mux.HandleFunc("GET /reports", h.reports)
	h.mux.HandleFunc("GET /reports/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/reports/"+r.PathValue("id")+"/", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET /reports/{id}/{file...}", h.reportFile)
	h.mux.HandleFunc("GET /jobs", h.jobs)
	h.mux.HandleFunc("GET /jobs/{id}", h.job)
	h.mux.HandleFunc("GET /fleet", h.fleet)
	h.mux.HandleFunc("GET /artifacts/{name...}", h.artifact)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// nav is the site navigation shown above every page (a report's too).
func (h *handler) nav() []report.Link {
	return []report.Link{{Text: h.opts.Title, Href: "/"}, {Text: "Reports", Href: "/reports"}, {Text: "Jobs", Href: "/jobs"}, {Text: "Fleet", Href: "/fleet"}}
}

type pageData struct {
	Title   string
	Site    string
	Nav     []report.Link
	Missing string // the backend this page needs is not configured
	Data    any
	NextRun time.Time
}

func (h *handler) render(w http.ResponseWriter, status int, name, title string, data any, missing string) {
	pd := pageData{Title: title, Site: h.opts.Title, Nav: h.nav(), Data: data, Missing: missing}
	if h.opts.NextRun != nil {
		pd.NextRun = h.opts.NextRun()
	}
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, pd); err != nil {
		slog.Error("web: template", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (h *handler) fail(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, ErrNotFound) {
		h.render(w, http.StatusNotFound, "notfound.tmpl", "Not found", what, "")
		return
	}
	slog.Error("web: backend", "what", what, "err", err)
	http.Error(w, what+": "+err.Error(), http.StatusInternalServerError)
}

func (h *handler) latest(w http.ResponseWriter, r *http.Request) {
	if h.opts.Reports == nil {
		h.render(w, http.StatusOK, "noreport.tmpl", "Latest report", nil, "reports")
		return
	}
	rep, err := h.opts.Reports.Latest(r.Context())
	if errors.Is(err, ErrNotFound) {
		h.render(w, http.StatusOK, "noreport.tmpl", "Latest report", nil, "")
		return
	}
	if err != nil {
		h.fail(w, "latest report", err)
		return
	}
	h.reportPage(w, rep)
}

func (h *handler) reportPage(w http.ResponseWriter, rep report.Report) {
	base := "/reports/" + rep.ID + "/"
	page, err := report.HTML(rep, report.HTMLOptions{Nav: h.nav(),
		Links: []report.Link{{Text: "JSON", Href: base + "report.json"}, {Text: "Markdown", Href: base + "report.md"}}})
	if err != nil {
		h.fail(w, "report "+rep.ID, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(page)
}

func (h *handler) reports(w http.ResponseWriter, r *http.Request) {
	if h.opts.Reports == nil {
		h.render(w, http.StatusOK, "reports.tmpl", "Reports", nil, "reports")
		return
	}
	list, err := h.opts.Reports.List(r.Context())
	if err != nil {
		h.fail(w, "reports", err)
		return
	}
	h.render(w, http.StatusOK, "reports.tmpl", "Reports", list, "")
}

func (h *handler) reportFile(w http.ResponseWriter, r *http.Request) {
	id, file := r.PathValue("id"), r.PathValue("file")
	if h.opts.Reports == nil {
		h.fail(w, "report "+id, ErrNotFound)
		return
	}
	rep, err := h.opts.Reports.Get(r.Context(), id)
	if err != nil {
		h.fail(w, "report "+id, err)
		return
	}
	if file == "" {
		h.reportPage(w, rep)
		return
	}
	body, ok, err := report.File(rep, file)
	if err != nil {
		h.fail(w, "report "+id, err)
		return
	}
	if !ok {
		h.fail(w, "report "+id+" file "+file, ErrNotFound)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(file))
	switch path.Ext(file) {
	case ".md":
		ctype = "text/markdown; charset=utf-8"
	case ".json":
		ctype = "application/json"
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.Write(body)
}

func (h *handler) jobs(w http.ResponseWriter, r *http.Request) {
	if h.opts.Jobs == nil {
		h.render(w, http.StatusOK, "jobs.tmpl", "Jobs", nil, "jobs")
		return
	}
	list, err := h.opts.Jobs.List(r.Context())
	if err != nil {
		h.fail(w, "jobs", err)
		return
	}
	page := jobsPage{Jobs: list}
	if q, ok := h.opts.Jobs.(Quotas); ok {
		if page.Quotas, err = q.Quotas(r.Context()); err != nil {
			h.fail(w, "quotas", err)
			return
		}
	}
	h.render(w, http.StatusOK, "jobs.tmpl", "Jobs", page, "")
}

// artifact serves a stored object (a job's rollout video) by name.
func (h *handler) artifact(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if h.opts.Artifacts == nil || name == "" {
		h.fail(w, "artifact "+name, ErrNotFound)
		return
	}
	data, err := h.opts.Artifacts.Artifact(r.Context(), name)
	if err != nil {
		h.fail(w, "artifact "+name, err)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(data)
}

func (h *handler) job(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if h.opts.Jobs == nil {
		h.fail(w, "job "+id, ErrNotFound)
		return
	}
	j, err := h.opts.Jobs.Get(r.Context(), id)
	if err != nil {
		h.fail(w, "job "+id, err)
		return
	}
	h.render(w, http.StatusOK, "job.tmpl", "Job "+j.ID, j, "")
}

func (h *handler) fleet(w http.ResponseWriter, r *http.Request) {
	if h.opts.Fleet == nil {
		h.render(w, http.StatusOK, "fleet.tmpl", "Fleet", nil, "fleet")
		return
	}
	robots, err := h.opts.Fleet.Robots(r.Context())
	if err != nil {
		h.fail(w, "fleet", err)
		return
	}
	h.render(w, http.StatusOK, "fleet.tmpl", "Fleet", robots, "")
}

// leaderboard lists a ranking's arms best first.
func leaderboard(r ranking.Result) []ranking.ArmResult {
	out := make([]ranking.ArmResult, 0, len(r.Order))
	for _, i := range r.Order {
		if i >= 0 && i < len(r.Arms) {
			out = append(out, r.Arms[i])
		}
	}
	return out
}

// humanize says a duration the way people do ("3 min ago").
func humanize(d time.Duration) string {
	switch {
	case d < 0:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}
