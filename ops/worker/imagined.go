package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"dreamrank/evaluator/imagine"
	"dreamrank/evaluator/judge"
	"dreamrank/ops/job"
	"dreamrank/policy"
	"dreamrank/policy/expert"
	"dreamrank/policy/zoo"
	"dreamrank/robots/sim/pusht"
	"dreamrank/worldmodel"
)

// Scenario is a scenario workers can imagine: its catalogue entry and how
// its episodes start.
type Scenario struct {
	Info  job.ScenarioInfo
	Start imagine.Starter
}

// Scenarios are the scenarios this build can run.
func Scenarios() []Scenario {
	seeds := expert.TestSeeds()
	return []Scenario{{
		Info:  job.ScenarioInfo{Name: "pusht", FirstSeed: seeds[0], Horizon: pusht.MaxSteps, DefaultEpisodes: len(seeds)},
		Start: imagine.PushTStart,
	}}
}

// Catalog is what workers of this build can run, for the server to check
// specs against.
func Catalog(z *zoo.Zoo) job.Catalog {
	c := job.Catalog{Zoo: z, PolicyBackends: policy.Names(), ModelBackends: worldmodel.Backends(), Judges: judge.Names()}
	for _, s := range Scenarios() {
		c.Scenarios = append(c.Scenarios, s.Info)
	}
	return c
}

// Imagined runs tasks for real: each arm rolled out in the named world
// model from the scenario's real first frames and judged
// (evaluator/imagine), the path `dreamrank bench ranking` takes. It keeps
// opened policies, models and judges for the next task; one Imagined serves
// one worker goroutine.
type Imagined struct {
	policies map[string]policy.Policy
	models   map[string]worldmodel.Model
	judges   map[string]judge.Judge
	starts   map[string]imagine.Starter
}

// NewImagined makes a runner.
func NewImagined() *Imagined {
	r := &Imagined{policies: map[string]policy.Policy{}, models: map[string]worldmodel.Model{},
		judges: map[string]judge.Judge{}, starts: map[string]imagine.Starter{}}
	for _, s := range Scenarios() {
		r.starts[s.Info.Name] = s.Start
	}
	return r
}

// Run imagines the task's seeds.
func (r *Imagined) Run(ctx context.Context, t job.Task) (job.Outcome, error) {
	start, ok := r.starts[t.Scenario]
	if !ok {
		return job.Outcome{}, fmt.Errorf("%w: %q", job.ErrUnknownScenario, t.Scenario)
	}
	p, err := r.policy(ctx, t.Arm)
	if err != nil {
		return job.Outcome{}, err
	}
	m, err := r.model(ctx, t.WorldModel)
	if err != nil {
		return job.Outcome{}, err
	}
	j, err := r.judge(ctx, t.Judge, t.JudgeOptions)
	if err != nil {
		return job.Outcome{}, err
	}
	rep, err := imagine.Run(ctx, imagine.Unit{Arm: t.Arm.Name, Seeds: t.Seeds, Steer: t.Arm.Steer(),
		Horizon: t.Horizon, Execute: t.Execute}, p, m, j, start, nil)
	if err != nil {
		return job.Outcome{}, err
	}
	return job.Outcome{Episodes: rep.Outcomes}, nil
}

// Close releases what the runner opened.
func (r *Imagined) Close() error {
	for _, p := range r.policies {
		closeIf(p)
	}
	for _, m := range r.models {
		closeIf(m)
	}
	return nil
}

func closeIf(v any) {
	if c, ok := v.(io.Closer); ok {
		_ = c.Close()
	}
}

func key(name string, opts map[string]string) string {
	keys := slices.Sorted(maps.Keys(opts))
	raw, _ := json.Marshal(struct {
		N string
		K []string
		O map[string]string
	}{name, keys, opts})
	return string(raw)
}

func (r *Imagined) policy(ctx context.Context, a zoo.Arm) (policy.Policy, error) {
	k := key(a.Backend, a.Options)
	if p, ok := r.policies[k]; ok {
		return p, nil
	}
	p, err := policy.Open(ctx, a.Backend, policy.Options(a.Options))
	if err != nil {
		return nil, fmt.Errorf("%w: arm %s: %w", job.ErrUnknownPolicy, a.Name, err)
	}
	r.policies[k] = p
	return p, nil
}

func (r *Imagined) model(ctx context.Context, ref job.ModelRef) (worldmodel.Model, error) {
	k := key(ref.Backend, ref.Options)
	if m, ok := r.models[k]; ok {
		return m, nil
	}
	m, err := worldmodel.Open(ctx, ref.Backend, worldmodel.Options(ref.Options))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", job.ErrUnknownModel, err)
	}
	r.models[k] = m
	return m, nil
}

func (r *Imagined) judge(ctx context.Context, name string, opts map[string]string) (judge.Judge, error) {
	k := key(name, opts)
	if j, ok := r.judges[k]; ok {
		return j, nil
	}
	j, err := judge.Open(ctx, name, judge.Options(opts))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", job.ErrUnknownJudge, err)
	}
	r.judges[k] = j
	return j, nil
}
