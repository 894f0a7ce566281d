package fleetlink_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/fleetlink"
	"dreamrank/ops/job"
	"dreamrank/ops/web"
	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
)

// fakeFleet answers requests from results by seed, and keeps what it was
// asked.
type fakeFleet struct {
	refuse error
	bySeed map[int64]fleet.Result
	asked  []fleet.EpisodeRequest
}

func (f *fakeFleet) Request(_ context.Context, reqs []fleet.EpisodeRequest) error {
	f.asked = append(f.asked, reqs...)
	return f.refuse
}

func (f *fakeFleet) Wait(_ context.Context, ids []string) ([]fleet.Result, error) {
	out := make([]fleet.Result, len(ids))
	for i, id := range ids {
		for _, r := range f.asked {
			if r.ID == id {
				out[i] = f.bySeed[r.Seed]
				out[i].Request, out[i].Seed = id, r.Seed
			}
		}
	}
	return out, nil
}

func failed() *errcode.Error {
	e := errcode.New(errcode.Timeout, "no robot finished it")
	return &e
}

func TestRealPlay(t *testing.T) {
	arm := zoo.Arm{Name: "scripted-q5", Backend: "scripted"}
	yes, no := true, false
	refused := errors.New("no stream")
	tests := []struct {
		name     string
		scenario string
		seeds    []int64
		fleet    fakeFleet
		want     job.RealEpisodes
		wantErr  error
	}{
		{"every seed played", "pusht", []int64{7, 3},
			fakeFleet{bySeed: map[int64]fleet.Result{3: {EpisodeResult: fleet.EpisodeResult{Success: true, MaxReward: 1}},
				7: {EpisodeResult: fleet.EpisodeResult{MaxReward: 0.25}}}},
			job.RealEpisodes{Arm: arm.Name, Source: "fleet", Seeds: []int64{7, 3}, Success: []bool{false, true}, MaxReward: []float64{0.25, 1}}, nil},
		{"a seed no robot could run is left out", "pusht", []int64{1, 2},
			fakeFleet{bySeed: map[int64]fleet.Result{1: {Error: failed()}, 2: {EpisodeResult: fleet.EpisodeResult{Success: true, MaxReward: 1}}}},
			job.RealEpisodes{Arm: arm.Name, Source: "fleet", Seeds: []int64{2}, Success: []bool{true}, MaxReward: []float64{1}}, nil},
		{"keep-out results carried", fleet.SafetyScenario, []int64{4, 5},
			fakeFleet{bySeed: map[int64]fleet.Result{4: {EpisodeResult: fleet.EpisodeResult{Violated: &yes}}, 5: {EpisodeResult: fleet.EpisodeResult{Violated: &no}}}},
			job.RealEpisodes{Arm: arm.Name, Source: "fleet", Seeds: []int64{4, 5}, Success: []bool{false, false}, MaxReward: []float64{0, 0}, Violated: []bool{true, false}}, nil},
		{"a refused request is an error", "pusht", []int64{1}, fakeFleet{refuse: refused}, job.RealEpisodes{}, refused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fleetlink.Real{Client: &tc.fleet, MaxSteps: 40}
			got, err := r.Play(context.Background(), "job1", tc.scenario, arm, tc.seeds)
			if !errors.Is(err, tc.wantErr) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Play: %+v, %v; want %+v, %v", got, err, tc.want, tc.wantErr)
			}
			// The ids are the paired ones, so a restarted server asks again
			// for the same episodes.
			for i, q := range tc.fleet.asked {
				if q.ID != fleet.PairedID("job1", arm.Name, tc.scenario, tc.seeds[i]) || q.Group != "job1" || q.MaxSteps != 40 || q.Arm.Name != arm.Name {
					t.Errorf("request %d: %+v", i, q)
				}
			}
		})
	}
}

type status fleet.Status

func (s status) Status() fleet.Status { return fleet.Status(s) }

func TestViewRobots(t *testing.T) {
	seen := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		robot fleet.RobotStatus
		want  web.Robot
	}{
		{"idle", fleet.RobotStatus{Robot: "r1", Embodiment: "sim/pusht", State: fleet.StateIdle, EpisodesDone: 4, LastSeen: seen},
			web.Robot{ID: "r1", Kind: "sim/pusht", State: fleet.StateIdle, LastSeen: seen, Episodes: 4}},
		{"busy shows request and step", fleet.RobotStatus{Robot: "r2", Embodiment: "sim/pusht", State: fleet.StateBusy, Request: "job1-a-pusht-3",
			Policy: "a", Step: 12, MaxSteps: 40, LastSeen: seen},
			web.Robot{ID: "r2", Kind: "sim/pusht", State: fleet.StateBusy, Task: "job1-a-pusht-3 (step 12/40)", LastSeen: seen}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fleetlink.View{Coordinator: status{Robots: []fleet.RobotStatus{tc.robot}}}.Robots(context.Background())
			if err != nil || len(got) != 1 || got[0] != tc.want {
				t.Fatalf("Robots: %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}
