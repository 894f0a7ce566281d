package job

import (
	"time"

	"dreamrank/evaluator/imagine"
	"dreamrank/foundation/errcode"
	"dreamrank/policy/zoo"
)

// Task is one unit of work: one arm over a batch of one scenario's seeds,
// imagined in the job's world model and judged. Tasks are idempotent: the
// same task run twice gives the same outcome, and the server counts each
// index once. WorldModel is the job's; with Draws its DrawNoise is always
// set (the default resolved), and the worker imagines each seed in Draws
// perturbed draws of the model too when the scenario has features.
type Task struct {
	Job          string            `json:"job"`
	Index        int               `json:"index"`
	Arm          zoo.Arm           `json:"arm"`
	Scenario     string            `json:"scenario"`
	Seeds        []int64           `json:"seeds"`
	Horizon      int               `json:"horizon"`
	Execute      int               `json:"execute,omitempty"`
	WorldModel   ModelRef          `json:"world_model"`
	Judge        string            `json:"judge"`
	JudgeOptions map[string]string `json:"judge_options,omitempty"`
	Deadline     time.Time         `json:"deadline,omitzero"`
}

// Tasks expands the plan for job id, arm-major, then scenario, then seed
// batch, so task indices are stable across restarts.
func (p Plan) Tasks(id string) []Task {
	out := make([]Task, 0, p.TaskCount)
	wm := p.Spec.WorldModel
	if wm.Draws > 0 {
		noise := wm.Noise()
		wm.DrawNoise = &noise
	}
	for _, a := range p.Arms {
		for si, sc := range p.Scenarios {
			seeds := p.Seeds[si]
			per := p.Spec.SeedsPerTask
			if per <= 0 || per > len(seeds) {
				per = len(seeds)
			}
			for lo := 0; lo < len(seeds); lo += per {
				out = append(out, Task{Job: id, Index: len(out), Arm: a, Scenario: sc.Name,
					Seeds: seeds[lo:min(lo+per, len(seeds))], Horizon: sc.Horizon, Execute: p.Spec.Execute,
					WorldModel: wm, Judge: p.Judge, JudgeOptions: p.Spec.JudgeOption, Deadline: p.Deadline})
			}
		}
	}
	return out
}

// Outcome is what a worker reports for a task: the judged episodes, or why
// the task failed for good.
type Outcome struct {
	Job      string            `json:"job"`
	Task     int               `json:"task"`
	Worker   string            `json:"worker,omitempty"`
	Attempts int               `json:"attempts"`
	Episodes []imagine.Outcome `json:"episodes,omitempty"`
	// Critical and Features, for safety scenarios, hold each episode's
	// critical variables and world-model features, aligned with Episodes.
	Critical [][]float64    `json:"critical,omitempty"`
	Features [][]float64    `json:"features,omitempty"`
	Error    *errcode.Error `json:"error,omitempty"`
	// Artifacts are object-store names of what the task stored (rollout
	// videos); Media is what the runner made for the worker to store.
	Artifacts []string `json:"artifacts,omitempty"`
	Media     []Media  `json:"-"`
	Seconds   float64  `json:"seconds"`
}

// Failed reports whether the task failed for good.
func (o Outcome) Failed() bool { return o.Error != nil }

// Media is a file a task made, such as an animated GIF of an imagined
// episode; the worker stores it as jobs/<job>/<Name>.
type Media struct {
	Name string
	Data []byte
}

// ArtifactName is where a task's media lives in the object store.
func ArtifactName(jobID, name string) string { return "jobs/" + jobID + "/" + name }
