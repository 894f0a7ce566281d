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
	"dreamrank/evaluator/validation/wmpool"
	"dreamrank/foundation/pusht"
	"dreamrank/ops/job"
	"dreamrank/ops/report"
	"dreamrank/policy"
	"dreamrank/policy/expert"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
)

// Scenario is a scenario workers can imagine: its catalogue entry and how
// its episodes start.
type Scenario struct {
	Info  job.ScenarioInfo
	Start imagine.Starter
	// Features, for safety scenarios, returns an imagined episode's
	// critical variables and world-model features (Info.FeatureNames)
	// from its predicted proprioception; nil for other scenarios.
	Features func(seed int64, o imagine.Outcome, horizon int) (critical, features []float64)
}

// SafetySeed is the first standard seed of the pusht-safety scenario.
const SafetySeed = 1_000_000

// Scenarios are the scenarios this build can run: PushT from the standard
// test seeds, and PushT with a keep-out zone (scenarios.PushTSafety), whose
// event is a violation predicted from the imagined pusher path.
func Scenarios() []Scenario {
	seeds := expert.TestSeeds()
	grid := scenarios.SafetyStrata()
	return []Scenario{{
		Info:  job.ScenarioInfo{Name: "pusht", FirstSeed: seeds[0], Horizon: pusht.MaxSteps, DefaultEpisodes: len(seeds)},
		Start: imagine.PushTStart,
	}, {
		Info: job.ScenarioInfo{Name: scenarios.PushTSafetyName, FirstSeed: SafetySeed, Horizon: pusht.MaxSteps, DefaultEpisodes: 200,
			Event: job.EventViolation, FeatureNames: wmpool.FeatureNames, EnsembleFeatureNames: wmpool.EnsembleFeatureNames, Strata: &grid},
		Start: func(ctx context.Context, seed int64) (worldmodel.Observation, error) {
			return wmpool.Start(scenarios.PushTSafety{}.Sample(seed)), ctx.Err()
		},
		Features: func(seed int64, o imagine.Outcome, horizon int) ([]float64, []float64) {
			in := scenarios.PushTSafety{}.Sample(seed)
			path := make([][2]float64, len(o.Proprio))
			for t, p := range o.Proprio {
				path[t] = [2]float64{float64(p[0]), float64(p[1])}
			}
			return in.Critical, wmpool.Features(in.Zone, path, o.MaxReward, o.Success, horizon)
		},
	}}
}

// Catalog is what workers of this build can run, for the server to check
// specs against.
func Catalog(z *zoo.Zoo) job.Catalog {
	c := job.Catalog{Zoo: z, PolicyBackends: policy.Names(), ModelBackends: worldmodel.Backends(), DrawBackends: worldmodel.DrawBackends(), Judges: judge.Names()}
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
	policies  map[string]policy.Policy
	models    map[string]worldmodel.Model
	judges    map[string]judge.Judge
	scenarios map[string]Scenario
}

// NewImagined makes a runner.
func NewImagined() *Imagined {
	r := &Imagined{policies: map[string]policy.Policy{}, models: map[string]worldmodel.Model{},
		judges: map[string]judge.Judge{}, scenarios: map[string]Scenario{}}
	for _, s := range Scenarios() {
		r.scenarios[s.Info.Name] = s
	}
	return r
}

// Run imagines the task's seeds. For a scenario with Features and a task
// with world-model draws (t.WorldModel.Draws = K), it imagines the seeds
// K more times, in perturbed draws of the model (DrawRef), and each seed's
// features are the model's rollout's followed by their means over all
// K+1 rollouts (wmpool.EnsembleFeatures, as `safety pool --wm-draws`
// builds them).
func (r *Imagined) Run(ctx context.Context, t job.Task) (job.Outcome, error) {
	sc, ok := r.scenarios[t.Scenario]
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
		Horizon: t.Horizon, Execute: t.Execute, KeepProprio: sc.Features != nil, KeepFrames: true}, p, m, j, sc.Start, nil)
	if err != nil {
		return job.Outcome{}, err
	}
	out := job.Outcome{Episodes: rep.Outcomes}
	if v, err := video(t, rep.Outcomes[0], m.Spec()); err == nil {
		out.Media = append(out.Media, v)
	}
	if sc.Features == nil {
		return out, nil
	}
	perRollout := make([][][]float64, len(rep.Outcomes)) // by seed, then rollout: the model's, then each draw's
	for i, o := range rep.Outcomes {
		c, f := sc.Features(o.Seed, o, t.Horizon)
		out.Critical, perRollout[i] = append(out.Critical, c), [][]float64{f}
	}
	for k := 1; k <= t.WorldModel.Draws; k++ {
		if err := r.draw(ctx, t, sc, p, j, k, rep.Outcomes, perRollout); err != nil {
			return job.Outcome{}, err
		}
	}
	for _, f := range perRollout {
		out.Features = append(out.Features, wmpool.EnsembleFeatures(f))
	}
	return out, nil
}

// draw imagines the task's seeds again in perturbed draw k of its world
// model (DrawRef) and appends each seed's features to perRollout. Only
// features are kept: the episodes, outcomes and video are the model's own.
func (r *Imagined) draw(ctx context.Context, t job.Task, sc Scenario, p policy.Policy, j judge.Judge, k int, first []imagine.Outcome, perRollout [][][]float64) error {
	ref, err := DrawRef(t.WorldModel, k)
	if err != nil {
		return fmt.Errorf("%w: world-model draw %d of %d: %w", job.ErrUnknownModel, k, t.WorldModel.Draws, err)
	}
	m, err := r.model(ctx, ref)
	if err != nil {
		return fmt.Errorf("world-model draw %d of %d (options %v): %w", k, t.WorldModel.Draws, ref.Options, err)
	}
	rep, err := imagine.Run(ctx, imagine.Unit{Arm: t.Arm.Name, Seeds: t.Seeds, Steer: t.Arm.Steer(),
		Horizon: t.Horizon, Execute: t.Execute, KeepProprio: true}, p, m, j, sc.Start, nil)
	if err != nil {
		return fmt.Errorf("world-model draw %d of %d: %w", k, t.WorldModel.Draws, err)
	}
	if len(rep.Outcomes) != len(first) {
		return fmt.Errorf("world-model draw %d: %d episodes for %d seeds", k, len(rep.Outcomes), len(first))
	}
	for i, o := range rep.Outcomes {
		if o.Seed != first[i].Seed {
			return fmt.Errorf("world-model draw %d: seed %d paired with %d", k, o.Seed, first[i].Seed)
		}
		_, f := sc.Features(o.Seed, o, t.Horizon)
		perRollout[i] = append(perRollout[i], f)
	}
	return nil
}

// DrawRef is perturbed draw k (1, 2, ...) of a job's world model: its
// backend and options plus noise ref.Noise() and seed k under the keys the
// backend declared (worldmodel.DrawOptions), as `dreamrank safety pool
// --wm-draws` opens them. It fails for a backend without draws.
func DrawRef(ref job.ModelRef, k int) (job.ModelRef, error) {
	opts, err := worldmodel.DrawOptions(ref.Backend, ref.Options, ref.Noise(), k)
	if err != nil {
		return job.ModelRef{}, err
	}
	return job.ModelRef{Backend: ref.Backend, Options: opts}, nil
}

// video is the task's first imagined episode as an animated GIF, named
// videos/<scenario>-<arm>-<seed>.gif.
func video(t job.Task, o imagine.Outcome, spec worldmodel.Spec) (job.Media, error) {
	gif, err := report.SideBySideGIF(report.RGBFrames(o.Frames, spec.FrameW, spec.FrameH), nil, 100)
	if err != nil {
		return job.Media{}, err
	}
	return job.Media{Name: fmt.Sprintf("videos/%s-%s-%d.gif", t.Scenario, t.Arm.Name, o.Seed), Data: gif}, nil
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
