package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/web"
)

// WebJobs serves the UI's job pages from the server's records.
func (s *Server) WebJobs() web.Jobs { return webJobs{s} }

type webJobs struct{ s *Server }

func (w webJobs) List(ctx context.Context) ([]web.Job, error) {
	rep, err := w.s.list(ctx, "", jobapi.ListRequest{Limit: 200})
	if err != nil {
		return nil, err
	}
	out := make([]web.Job, 0, len(rep.Jobs))
	for _, st := range rep.Jobs {
		out = append(out, w.job(ctx, st))
	}
	return out, nil
}

func (w webJobs) Get(ctx context.Context, id string) (web.Job, error) {
	st, err := w.s.status(ctx, "", id)
	if errors.Is(err, job.ErrNotFound) {
		return web.Job{}, fmt.Errorf("%w: %w", web.ErrNotFound, err)
	}
	if err != nil {
		return web.Job{}, err
	}
	return w.job(ctx, st), nil
}

// job maps a status (and its plan, when readable) to the UI's view.
func (w webJobs) job(ctx context.Context, st job.Status) web.Job {
	j := web.Job{ID: st.ID, Name: st.Name, Owner: st.Owner, State: web.JobState(st.State), Reason: st.Reason,
		Created: st.Created, Updated: st.Updated, Finished: st.Finished, Tasks: st.Tasks, Done: st.Done,
		Failed: st.Failed, Episodes: st.Episodes, ETA: time.Duration(st.ETASeconds * float64(time.Second))}
	if p, err := w.s.plan(ctx, st.ID); err == nil {
		j.WorldModel = p.Spec.WorldModel.Backend
		for _, a := range p.Arms {
			j.Arms = append(j.Arms, a.Name)
		}
	}
	if st.Result != nil {
		for _, sc := range st.Result.Scenarios {
			j.Results = append(j.Results, web.ScenarioResult{Scenario: sc.Scenario, Ranking: sc.Ranking})
		}
		j.Videos = st.Result.Artifacts[:min(len(st.Result.Artifacts), maxPageVideos)]
	}
	return j
}

// Quotas are the submitters' quotas and use (web.Quotas).
func (w webJobs) Quotas(context.Context) ([]web.Quota, error) {
	var out []web.Quota
	for _, q := range w.s.Usages() {
		out = append(out, web.Quota{User: q.User, QueuedTasks: q.QueuedTasks, MaxQueuedTasks: q.MaxQueuedTasks,
			Rollouts: q.Rollouts, MaxRollouts: q.MaxRollouts, ActiveJobs: q.ActiveJobs})
	}
	return out, nil
}

// maxPageVideos caps the videos a job page shows.
const maxPageVideos = 24

// WebArtifacts serves the object store's artifacts to the UI.
func (s *Server) WebArtifacts() web.Artifacts { return webArtifacts{s} }

type webArtifacts struct{ s *Server }

func (a webArtifacts) Artifact(ctx context.Context, name string) ([]byte, error) {
	b, err := a.s.res.Artifacts.GetBytes(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrInvalidStoreName) {
		return nil, fmt.Errorf("%w: %q", web.ErrNotFound, name)
	}
	return b, err
}
