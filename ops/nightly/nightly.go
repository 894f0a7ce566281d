package nightly

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"slices"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
	"dreamrank/evaluator/ranking"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/report"
	"dreamrank/ops/web"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

// Config says what a night evaluates. Zero values take the defaults.
type Config struct {
	Zoo        *zoo.Zoo     // default zoo.Default()
	WorldModel job.ModelRef // required
	Scenario   string       // default "pusht"
	// SafetyScenario is the keep-out-zone scenario (default
	// scenarios.PushTSafetyName).
	SafetyScenario string
	// Episodes imagined per arm (default 20), and the first RealBudget of
	// their seeds also played for real by the server's fleet, paired, for
	// the agreement section (default 10; a negative value plays none).
	Episodes   int
	RealBudget int
	// Previews is how many arms get an imagined-beside-real preview,
	// failures first (default 4).
	Previews int
	// Safety episodes imagined per arm in the keep-out-zone scenario
	// (default 12; negative: no safety section), SafetyReal of them
	// played for real (default 6), each at most SafetyHorizon steps
	// (default 120). They run as a second job beside the ranking.
	Safety, SafetyReal, SafetyHorizon int
	// Poll is how often the job is polled (default 2s).
	Poll  time.Duration
	Title string
}

func (c *Config) defaults() {
	if c.Zoo == nil {
		c.Zoo = zoo.Default()
	}
	if c.Scenario == "" {
		c.Scenario = "pusht"
	}
	if c.SafetyScenario == "" {
		c.SafetyScenario = scenarios.PushTSafetyName
	}
	if c.Episodes <= 0 {
		c.Episodes = 20
	}
	switch {
	case c.RealBudget == 0:
		c.RealBudget = min(10, c.Episodes)
	case c.RealBudget < 0:
		c.RealBudget = 0
	}
	if c.Previews == 0 {
		c.Previews = 4
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Safety == 0 {
		c.Safety = 12
	}
	if c.SafetyReal == 0 {
		c.SafetyReal = min(6, c.Safety)
	}
	if c.SafetyHorizon == 0 {
		c.SafetyHorizon = 120
	}
}

// Previewer renders one seed of an arm imagined and for real.
type Previewer interface {
	Preview(ctx context.Context, arm zoo.Arm, model job.ModelRef, seed int64) (imagined, real []image.Image, realSuccess bool, err error)
}

// Deps are the night's side effects.
type Deps struct {
	Jobs    jobapi.Client
	Reports Store
	Preview Previewer // nil: no previews
	// Describe returns the world model's checkpoint description and
	// fidelity numbers.
	Describe func(ctx context.Context, m job.ModelRef) report.WorldModel
	Log      *slog.Logger
}

// Run evaluates every zoo arm for the slot and stores the report. The job
// carries an idempotency key per slot, so a retried night reuses its job.
func Run(ctx context.Context, cfg Config, d Deps, id string) (report.Report, error) {
	cfg.defaults()
	if d.Log == nil {
		d.Log = slog.Default()
	}
	spec := job.Spec{Version: job.SpecVersion, Name: "nightly " + id, WorldModel: cfg.WorldModel,
		Scenarios: []string{cfg.Scenario}, Episodes: cfg.Episodes, SeedsPerTask: 10, RealBudget: cfg.RealBudget}
	for _, a := range cfg.Zoo.Arms {
		spec.Policies = append(spec.Policies, job.PolicyRef{Arm: a.Name})
	}
	safetySpec := spec
	safetySpec.Name, safetySpec.Scenarios = "nightly safety "+id, []string{cfg.SafetyScenario}
	safetySpec.Episodes, safetySpec.RealBudget, safetySpec.Horizon = cfg.Safety, cfg.SafetyReal, cfg.SafetyHorizon
	specs := map[string]job.Spec{"nightly-" + id: spec}
	if cfg.Safety > 0 {
		specs["nightly-"+id+"-safety"] = safetySpec
	}
	results := map[string]job.ScenarioResult{}
	for key, sp := range specs {
		sub, err := d.Jobs.Submit(ctx, sp, key)
		if err != nil {
			return report.Report{}, fmt.Errorf("nightly %s: submit %s: %w", id, sp.Name, err)
		}
		d.Log.Info("nightly: job submitted", "run", id, "job", sub.ID, "name", sp.Name, "tasks", sub.Tasks)
		specs[key] = job.Spec{Name: sub.ID} // remember the id to wait for
	}
	for key, sp := range specs {
		st, err := wait(ctx, d.Jobs, sp.Name, cfg.Poll)
		if err != nil {
			return report.Report{}, err
		}
		if st.Result == nil || len(st.Result.Scenarios) == 0 {
			return report.Report{}, fmt.Errorf("nightly %s: job %s ended %s without a result: %s", id, st.ID, st.State, st.Reason)
		}
		results[key] = st.Result.Scenarios[0]
	}
	sc := results["nightly-"+id]
	res := report.Results{RunID: id, Time: time.Now().UTC(), Title: cfg.Title}
	if d.Describe != nil {
		res.WorldModel = d.Describe(ctx, cfg.WorldModel)
	}
	for _, e := range sc.Episodes {
		a, _ := cfg.Zoo.Arm(e.Arm)
		res.Arms = append(res.Arms, ranking.Arm{Name: e.Arm, Policy: a.Backend, Context: a.Context.String(), Success: e.Success, MaxReward: e.MaxReward})
	}
	if cal := sc.Calibration; cal != nil {
		res.Paired = paired(sc, *cal)
	}
	if d.Preview != nil {
		res.Previews = previews(ctx, cfg, d, sc)
	}
	prev, err := d.Reports.Latest(ctx)
	switch {
	case err == nil:
		res.Previous = &prev
	case !errors.Is(err, web.ErrNotFound):
		return report.Report{}, err
	}
	in, err := report.FromResults(res)
	if err != nil {
		return report.Report{}, err
	}
	if s, ok := results["nightly-"+id+"-safety"]; ok && s.Calibration != nil {
		in.Safety = safetyInput(s, cfg.SafetyReal*len(cfg.Zoo.Arms))
	}
	r, err := report.Build(in)
	if err != nil {
		return report.Report{}, err
	}
	if err := d.Reports.Put(ctx, r); err != nil {
		return report.Report{}, err
	}
	d.Log.Info("nightly: report stored", "run", id, "arms", len(r.Leaderboard), "safety", in.Safety != nil)
	return r, nil
}

// wait polls a job until it ends.
func wait(ctx context.Context, c jobapi.Client, id string, every time.Duration) (job.Status, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		st, err := c.Status(ctx, id)
		if err == nil && st.State.Final() {
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, fmt.Errorf("nightly: waiting for job %s: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}

// safetyInput is the report's safety section from a safety job's
// calibration: per arm the real-only, control-variate, (when every
// stratum got its real episodes) stratified and (when a two-phase design
// chose the real episodes) two-phase estimates.
func safetyInput(sc job.ScenarioResult, budget int) *report.SafetyInput {
	c := sc.Calibration
	in := &report.SafetyInput{Scenario: sc.Scenario, Event: "keep-out zone violation", Budget: budget}
	for _, e := range c.Estimates {
		a := report.SafetyArm{Arm: e.Arm, RealUsed: e.RealBudget, Estimates: []estimate.Result{e.RealOnly, e.ControlVariate}}
		if e.Stratified != nil {
			a.Estimates = append(a.Estimates, *e.Stratified)
		}
		if e.TwoPhase != nil {
			a.Estimates = append(a.Estimates, *e.TwoPhase)
		}
		in.Arms = append(in.Arms, a)
	}
	return in
}

// paired lines up each arm's real episodes with its imagined ones on the
// same seeds. When a two-phase design chose them, only its first round's
// proportional share counts: the later rounds over-represent the seeds the
// world model is least sure of, which would bias the arm's real rate.
func paired(sc job.ScenarioResult, cal job.Calibration) []agreement.Arm {
	share := map[string][]int64{}
	for _, e := range cal.Estimates {
		if e.Design != nil {
			share[e.Arm] = e.Design.Share
		}
	}
	var out []agreement.Arm
	for _, r := range cal.Real {
		im, ok := sc.Arm(r.Arm)
		if !ok {
			continue
		}
		keep, designed := share[r.Arm]
		at := map[int64]bool{}
		for i, s := range im.Seeds {
			at[s] = im.Success[i]
		}
		a := agreement.Arm{Name: r.Arm}
		for k, s := range r.Seeds {
			if designed && !slices.Contains(keep, s) {
				continue
			}
			if pred, ok := at[s]; ok {
				a.Real = append(a.Real, agreement.Successes(r.Success[k : k+1])[0])
				a.Pred = append(a.Pred, agreement.Successes([]bool{pred})[0])
			}
		}
		out = append(out, a)
	}
	return out
}

// previews renders up to cfg.Previews arms, failing arms first.
func previews(ctx context.Context, cfg Config, d Deps, sc job.ScenarioResult) []report.Preview {
	var picks []report.Preview
	for _, wantFail := range []bool{true, false} {
		for _, e := range sc.Episodes {
			if len(picks) >= cfg.Previews {
				return picks
			}
			for i, ok := range e.Success {
				if ok == wantFail {
					continue
				}
				arm, err := cfg.Zoo.Arm(e.Arm)
				if err != nil {
					break
				}
				im, re, realOK, err := d.Preview.Preview(ctx, arm, cfg.WorldModel, e.Seeds[i])
				if err != nil {
					d.Log.Warn("nightly: preview", "arm", e.Arm, "seed", e.Seeds[i], "err", err)
					break
				}
				picks = append(picks, report.Preview{Arm: e.Arm, Seed: e.Seeds[i], ImaginedSuccess: ok,
					RealSuccess: &realOK, Imagined: im, Real: re})
				break
			}
		}
	}
	return picks
}
