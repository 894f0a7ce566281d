package job

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/policy"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

// Catalog is what a deployment can run, to check a spec's references
// against. It is a value: the server fills it from the registries.
type Catalog struct {
	Zoo            *zoo.Zoo
	PolicyBackends []string
	ModelBackends  []string
	// DrawBackends are the model backends whose options take the noise
	// and seed of perturbed draws (ModelRef.Draws).
	DrawBackends []string
	Judges       []string
	Scenarios    []ScenarioInfo
}

// ScenarioInfo is a scenario a worker can start episodes of. Its standard
// seeds are FirstSeed, FirstSeed+1, ...
type ScenarioInfo struct {
	Name      string `json:"name"`
	FirstSeed int64  `json:"first_seed"`
	Horizon   int    `json:"horizon"`
	// DefaultEpisodes is used when the spec gives neither episodes nor
	// seeds.
	DefaultEpisodes int `json:"default_episodes"`
	// Event is what real episodes are scored on: EventSuccess (default)
	// or EventViolation for safety scenarios, whose imagined episodes
	// carry critical variables and world-model features (FeatureNames,
	// the predicted event first) and whose strata are Strata.
	Event        string          `json:"event,omitempty"`
	FeatureNames []string        `json:"feature_names,omitempty"`
	Strata       *scenarios.Grid `json:"strata,omitempty"`
	// EnsembleFeatureNames, for scenarios with FeatureNames whose workers
	// can imagine world-model draws (ModelRef.Draws), are the features a
	// job with draws adds after FeatureNames: their means over a seed's
	// rollouts, ens_violation among them. Empty: jobs with draws are
	// refused.
	EnsembleFeatureNames []string `json:"ensemble_feature_names,omitempty"`
	// Draws is set in a plan (not the catalogue) when the job imagines each
	// seed in Draws perturbed draws of its world model too; FeatureNames
	// then end with EnsembleFeatureNames. The features are per job.
	Draws int `json:"draws,omitempty"`
}

// Events real episodes are scored on.
const (
	EventSuccess   = "success"
	EventViolation = "violation"
)

func (c Catalog) scenario(name string) (ScenarioInfo, bool) {
	for _, s := range c.Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return ScenarioInfo{}, false
}

// Plan is a validated spec with every reference resolved: what the server
// stores and expands into tasks.
type Plan struct {
	Spec      Spec           `json:"spec"`
	Arms      []zoo.Arm      `json:"arms"`
	Scenarios []ScenarioInfo `json:"scenarios"`
	// Seeds per scenario, in Scenarios' order.
	Seeds     [][]int64 `json:"seeds"`
	Judge     string    `json:"judge"`
	Priority  string    `json:"priority"`
	Deadline  time.Time `json:"deadline,omitzero"`
	TaskCount int       `json:"tasks"`
}

var armNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// DefaultJudge judges PushT frames.
const DefaultJudge = judge.PushTName

// Prepare validates s against the catalogue and the limits and resolves it
// into a Plan. Errors wrap ErrBadSpec, ErrTooLarge or an ErrUnknown...
// sentinel and say which field is wrong.
func Prepare(s Spec, c Catalog, l Limits, now time.Time) (Plan, error) {
	if s.Version != SpecVersion {
		return Plan{}, fmt.Errorf("%w: version %d, this server reads version %d", ErrBadSpec, s.Version, SpecVersion)
	}
	p := Plan{Spec: s, Judge: s.Judge, Priority: s.Priority}
	if p.Judge == "" {
		p.Judge = DefaultJudge
	}
	if !slices.Contains(c.Judges, p.Judge) {
		return Plan{}, fmt.Errorf("%w: %q (have %v)", ErrUnknownJudge, p.Judge, c.Judges)
	}
	if p.Priority == "" {
		p.Priority = PriorityNormal
	}
	if !slices.Contains(Priorities(), p.Priority) {
		return Plan{}, fmt.Errorf("%w: priority %q (high, normal, low)", ErrBadSpec, s.Priority)
	}
	if s.WorldModel.Backend == "" {
		return Plan{}, fmt.Errorf("%w: world_model.backend is required", ErrBadSpec)
	}
	if !slices.Contains(c.ModelBackends, s.WorldModel.Backend) {
		return Plan{}, fmt.Errorf("%w: backend %q (have %v)", ErrUnknownModel, s.WorldModel.Backend, c.ModelBackends)
	}
	if err := s.WorldModel.checkDraws(); err != nil {
		return Plan{}, err
	}
	if s.WorldModel.Draws > 0 && !slices.Contains(c.DrawBackends, s.WorldModel.Backend) {
		return Plan{}, fmt.Errorf("%w: world_model.draws: backend %q has no perturbed draws (backends with draws: %v)", ErrBadSpec, s.WorldModel.Backend, c.DrawBackends)
	}
	if err := checkCounts(s, l); err != nil {
		return Plan{}, err
	}
	var err error
	if p.Arms, err = resolveArms(s.Policies, c, l); err != nil {
		return Plan{}, err
	}
	if p.Scenarios, p.Seeds, err = resolveScenarios(s, c, l); err != nil {
		return Plan{}, err
	}
	if p.Deadline, err = s.deadline(now); err != nil {
		return Plan{}, err
	}
	for _, seeds := range p.Seeds {
		p.TaskCount += len(p.Arms) * chunks(len(seeds), s.SeedsPerTask)
	}
	total := p.Rollouts()
	if total > l.MaxTotalEpisodes {
		return Plan{}, fmt.Errorf("%w: %d imagined rollouts in all (episodes x policies x (1 + world_model.draws)), limit %d", ErrTooLarge, total, l.MaxTotalEpisodes)
	}
	if p.TaskCount > l.MaxTasks {
		return Plan{}, fmt.Errorf("%w: %d tasks, limit %d (raise seeds_per_task)", ErrTooLarge, p.TaskCount, l.MaxTasks)
	}
	return p, nil
}

// Rollouts is how many imagined rollouts the plan asks for: episodes x
// policies x (1 + world-model draws), as every draw is one more.
func (p Plan) Rollouts() int {
	n := 0
	for _, seeds := range p.Seeds {
		n += len(seeds) * len(p.Arms) * (1 + p.Spec.WorldModel.Draws)
	}
	return n
}

func checkCounts(s Spec, l Limits) error {
	switch {
	case s.Episodes < 0 || s.SeedsPerTask < 0 || s.Horizon < 0 || s.Execute < 0 || s.RealBudget < 0:
		return fmt.Errorf("%w: episodes, seeds_per_task, horizon, execute and real_budget must not be negative", ErrBadSpec)
	case s.Episodes > 0 && len(s.Seeds) > 0:
		return fmt.Errorf("%w: give episodes or seeds, not both", ErrBadSpec)
	case s.Episodes > l.MaxEpisodes || len(s.Seeds) > l.MaxEpisodes:
		return fmt.Errorf("%w: %d episodes per policy and scenario, limit %d", ErrTooLarge, max(s.Episodes, len(s.Seeds)), l.MaxEpisodes)
	case s.Horizon > l.MaxHorizon:
		return fmt.Errorf("%w: horizon %d, limit %d", ErrTooLarge, s.Horizon, l.MaxHorizon)
	case len(s.Policies) == 0:
		return fmt.Errorf("%w: no policies", ErrBadSpec)
	case len(s.Policies) > l.MaxPolicies:
		return fmt.Errorf("%w: %d policies, limit %d", ErrTooLarge, len(s.Policies), l.MaxPolicies)
	case len(s.Scenarios) > l.MaxScenarios:
		return fmt.Errorf("%w: %d scenarios, limit %d", ErrTooLarge, len(s.Scenarios), l.MaxScenarios)
	case s.RealBudget > s.Episodes && s.Episodes > 0:
		return fmt.Errorf("%w: real_budget %d exceeds the %d episodes per policy", ErrBadSpec, s.RealBudget, s.Episodes)
	}
	if len(s.Name) > 200 || len(s.IdempotencyKey) > 200 {
		return fmt.Errorf("%w: name and idempotency_key are at most 200 characters", ErrBadSpec)
	}
	seen := map[int64]bool{}
	for _, sd := range s.Seeds {
		if seen[sd] {
			return fmt.Errorf("%w: seed %d listed twice", ErrBadSpec, sd)
		}
		seen[sd] = true
	}
	return nil
}

func resolveArms(refs []PolicyRef, c Catalog, l Limits) ([]zoo.Arm, error) {
	arms := make([]zoo.Arm, 0, len(refs))
	seen := map[string]bool{}
	for i, r := range refs {
		a, err := resolveArm(i, r, c)
		if err != nil {
			return nil, err
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("%w: policy %q listed twice", ErrBadSpec, a.Name)
		}
		seen[a.Name] = true
		arms = append(arms, a)
	}
	return arms, nil
}

func resolveArm(i int, r PolicyRef, c Catalog) (zoo.Arm, error) {
	if r.Arm != "" {
		if r.Backend != "" || r.Options != nil || r.Context != nil {
			return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: a zoo arm (%q) takes no backend, options or context", ErrBadSpec, i, r.Arm)
		}
		if c.Zoo == nil {
			return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: no zoo on this server", ErrUnknownPolicy, i)
		}
		a, err := c.Zoo.Arm(r.Arm)
		if err != nil {
			return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: zoo arm %q", ErrUnknownPolicy, i, r.Arm)
		}
		if r.Name != "" {
			a.Name = r.Name
		}
		return a, nil
	}
	if r.Backend == "" {
		return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: give arm (a zoo arm) or backend", ErrBadSpec, i)
	}
	if !slices.Contains(c.PolicyBackends, r.Backend) {
		return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: backend %q (have %v)", ErrUnknownPolicy, i, r.Backend, c.PolicyBackends)
	}
	if !armNameRE.MatchString(r.Name) {
		return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: name %q, want 1-64 of [A-Za-z0-9_.-]", ErrBadSpec, i, r.Name)
	}
	if ctx := r.Context; ctx != nil {
		if ctx.Quality < 0 || ctx.Quality > 5 {
			return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: quality %d outside 1..5", ErrBadSpec, i, ctx.Quality)
		}
		if !slices.Contains([]string{"", policy.SpeedSlow, policy.SpeedNormal, policy.SpeedFast}, ctx.Speed) {
			return zoo.Arm{}, fmt.Errorf("%w: policies[%d]: speed %q (slow, normal, fast)", ErrBadSpec, i, ctx.Speed)
		}
	}
	return zoo.Arm{Name: r.Name, Backend: r.Backend, Options: maps.Clone(r.Options), Context: r.Context}, nil
}

func resolveScenarios(s Spec, c Catalog, l Limits) ([]ScenarioInfo, [][]int64, error) {
	names := s.Scenarios
	if len(names) == 0 {
		names = []string{"pusht"}
	}
	var infos []ScenarioInfo
	var seeds [][]int64
	for _, n := range names {
		info, ok := c.scenario(n)
		if !ok {
			return nil, nil, fmt.Errorf("%w: %q", ErrUnknownScenario, n)
		}
		if slices.ContainsFunc(infos, func(i ScenarioInfo) bool { return i.Name == n }) {
			return nil, nil, fmt.Errorf("%w: scenario %q listed twice", ErrBadSpec, n)
		}
		if s.Horizon > 0 {
			info.Horizon = s.Horizon
		}
		if d := s.WorldModel.Draws; d > 0 {
			if !info.takesDraws() {
				return nil, nil, fmt.Errorf("%w: world_model.draws %d: scenario %q has no world-model features for draws to average (draws need a safety scenario such as %s; submit other scenarios as a job without draws)",
					ErrBadSpec, d, n, drawScenarios(c))
			}
			info.Draws = d
			info.FeatureNames = append(slices.Clone(info.FeatureNames), info.EnsembleFeatureNames...)
		}
		sd := slices.Clone(s.Seeds)
		if len(sd) == 0 {
			n := s.Episodes
			if n == 0 {
				n = info.DefaultEpisodes
			}
			for k := range n {
				sd = append(sd, info.FirstSeed+int64(k))
			}
		}
		if len(sd) == 0 {
			return nil, nil, fmt.Errorf("%w: scenario %q: no episodes", ErrBadSpec, n)
		}
		infos, seeds = append(infos, info), append(seeds, sd)
	}
	return infos, seeds, nil
}

// takesDraws says whether jobs with world-model draws can run on the
// scenario: a violation scenario whose features have ensemble means.
func (s ScenarioInfo) takesDraws() bool {
	return s.Event == EventViolation && len(s.FeatureNames) > 0 && len(s.EnsembleFeatureNames) > 0
}

// drawScenarios names the catalogue's scenarios that take world-model
// draws.
func drawScenarios(c Catalog) string {
	var out []string
	for _, s := range c.Scenarios {
		if s.takesDraws() {
			out = append(out, s.Name)
		}
	}
	if len(out) == 0 {
		return "none on this server"
	}
	return strings.Join(out, ", ")
}

// chunks is how many tasks n seeds make at per seeds a task (0: one).
func chunks(n, per int) int {
	if per <= 0 || per >= n {
		return 1
	}
	return (n + per - 1) / per
}
