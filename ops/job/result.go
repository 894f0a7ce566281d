package job

import (
	"fmt"

	"dreamrank/evaluator/ranking"
)

// Result is a finished job's answer: per scenario, the arms ranked from
// their imagined outcomes with intervals, and the tasks that failed.
type Result struct {
	Scenarios   []ScenarioResult `json:"scenarios"`
	FailedTasks []TaskFailure    `json:"failed_tasks,omitempty"`
	// Artifacts are the object-store names of the tasks' videos.
	Artifacts []string `json:"artifacts,omitempty"`
}

// ScenarioResult ranks every arm on one scenario and keeps each arm's
// episodes, for pairing with real ones and for users' own analyses.
type ScenarioResult struct {
	Scenario string         `json:"scenario"`
	Ranking  ranking.Result `json:"ranking"`
	Episodes []ArmEpisodes  `json:"episodes"`
	// Calibration is set when the job had a real budget.
	Calibration *Calibration `json:"calibration,omitempty"`
}

// ArmEpisodes are one arm's imagined episodes in seed order of the spec.
type ArmEpisodes struct {
	Arm       string    `json:"arm"`
	Seeds     []int64   `json:"seeds"`
	Success   []bool    `json:"success"`
	MaxReward []float64 `json:"max_reward"`
	// Critical and Features are set for safety scenarios.
	Critical [][]float64 `json:"critical,omitempty"`
	Features [][]float64 `json:"features,omitempty"`
}

// Arm returns the episodes of the named arm.
func (s ScenarioResult) Arm(name string) (ArmEpisodes, bool) {
	for _, a := range s.Episodes {
		if a.Arm == name {
			return a, true
		}
	}
	return ArmEpisodes{}, false
}

// TaskFailure is a task that failed for good, and why.
type TaskFailure struct {
	Task     int    `json:"task"`
	Arm      string `json:"arm"`
	Attempts int    `json:"attempts"`
	Code     string `json:"code"`
	Message  string `json:"message"`
}

// Aggregate ranks the arms of plan p from its tasks' outcomes (by task
// index; each index once). Episodes are taken in task order, so the arms
// see their seeds in the spec's order. Arms with no successful episode in a
// scenario are left out of its ranking and their failures listed.
func Aggregate(p Plan, id string, outcomes map[int]Outcome) (Result, error) {
	var res Result
	tasks := p.Tasks(id)
	arms := make([][]ranking.Arm, len(p.Scenarios)) // per scenario, per arm
	seeds := make([][][]int64, len(p.Scenarios))
	extra := make([][]ArmEpisodes, len(p.Scenarios)) // critical and features
	for si := range p.Scenarios {
		arms[si] = make([]ranking.Arm, len(p.Arms))
		seeds[si] = make([][]int64, len(p.Arms))
		extra[si] = make([]ArmEpisodes, len(p.Arms))
		for ai, a := range p.Arms {
			arms[si][ai] = ranking.Arm{Name: a.Name, Policy: a.Backend, Context: a.Context.String()}
		}
	}
	armIndex := map[string]int{}
	for i, a := range p.Arms {
		armIndex[a.Name] = i
	}
	scIndex := map[string]int{}
	for i, s := range p.Scenarios {
		scIndex[s.Name] = i
	}
	for _, t := range tasks {
		o, ok := outcomes[t.Index]
		if !ok {
			return res, fmt.Errorf("%w: job %s: no outcome for task %d", ErrConflict, id, t.Index)
		}
		res.Artifacts = append(res.Artifacts, o.Artifacts...)
		if o.Failed() {
			res.FailedTasks = append(res.FailedTasks, TaskFailure{Task: t.Index, Arm: t.Arm.Name,
				Attempts: o.Attempts, Code: string(o.Error.Code), Message: o.Error.Message})
			continue
		}
		si, ai := scIndex[t.Scenario], armIndex[t.Arm.Name]
		a := &arms[si][ai]
		if len(o.Features) == len(o.Episodes) && len(o.Critical) == len(o.Episodes) {
			extra[si][ai].Critical = append(extra[si][ai].Critical, o.Critical...)
			extra[si][ai].Features = append(extra[si][ai].Features, o.Features...)
		}
		for _, e := range o.Episodes {
			seeds[si][ai] = append(seeds[si][ai], e.Seed)
			a.Success = append(a.Success, e.Success)
			a.MaxReward = append(a.MaxReward, e.MaxReward)
		}
	}
	for si, sc := range p.Scenarios {
		var ranked []ranking.Arm
		sr := ScenarioResult{Scenario: sc.Name, Episodes: []ArmEpisodes{}}
		for ai, a := range arms[si] {
			if len(a.Success) > 0 {
				ranked = append(ranked, a)
				ae := ArmEpisodes{Arm: a.Name, Seeds: seeds[si][ai], Success: a.Success, MaxReward: a.MaxReward}
				if x := extra[si][ai]; len(x.Features) == len(ae.Seeds) {
					ae.Critical, ae.Features = x.Critical, x.Features
				}
				sr.Episodes = append(sr.Episodes, ae)
			}
		}
		if len(ranked) > 0 {
			r, err := ranking.Rank(ranked, ranking.Options{})
			if err != nil {
				return res, fmt.Errorf("job %s: rank %s: %w", id, sc.Name, err)
			}
			sr.Ranking = r
		}
		res.Scenarios = append(res.Scenarios, sr)
	}
	return res, nil
}
