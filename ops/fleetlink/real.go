// Package fleetlink links the robot fleet (robots/fleet) to the job server
// and the web UI: Real plays a job's paired real episodes on the fleet
// (server.Real), and View lists the coordinator's robots for the UI
// (web.Fleet). The fleet knows nothing of jobs or the UI; this is the side
// that adapts.
package fleetlink

import (
	"context"
	"fmt"

	"dreamrank/ops/job"
	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
)

// Requester is the fleet as Real asks it for episodes (*fleet.Client).
type Requester interface {
	Request(ctx context.Context, reqs []fleet.EpisodeRequest) error
	Wait(ctx context.Context, ids []string) ([]fleet.Result, error)
}

// Real plays an evaluation job's paired real episodes on the fleet (the
// server's Real). Request ids are <job>-<arm>-<scenario>-<seed>, so asking
// again after a server restart returns the same episodes, and the rounds
// of an arm's two-phase design, on disjoint seeds, never share an id.
type Real struct {
	Client Requester
	// MaxSteps caps each episode (0: the scenario's own).
	MaxSteps int
}

// Play requests arm on seeds and waits for every result. Seeds no robot
// could run (after every attempt) are left out of the episodes, so the
// real budget reported is what was really spent.
func (j Real) Play(ctx context.Context, jobID, scenario string, arm zoo.Arm, seeds []int64) (job.RealEpisodes, error) {
	reqs := fleet.Paired(jobID, []zoo.Arm{arm}, scenario, seeds, j.MaxSteps)
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.ID
	}
	if err := j.Client.Request(ctx, reqs); err != nil {
		return job.RealEpisodes{}, fmt.Errorf("fleet: request %d episodes of %s: %w", len(reqs), arm.Name, err)
	}
	res, err := j.Client.Wait(ctx, ids)
	if err != nil {
		return job.RealEpisodes{}, err
	}
	return episodes(arm.Name, res), nil
}

// episodes are arm's real episodes from the fleet's results, in their
// order, leaving out the failed ones.
func episodes(arm string, res []fleet.Result) job.RealEpisodes {
	out := job.RealEpisodes{Arm: arm, Source: "fleet"}
	for _, r := range res {
		if r.Error != nil {
			continue
		}
		out.Seeds = append(out.Seeds, r.Seed)
		out.Success = append(out.Success, r.Success)
		out.MaxReward = append(out.MaxReward, r.MaxReward)
		if r.Violated != nil {
			out.Violated = append(out.Violated, *r.Violated)
		}
	}
	return out
}
