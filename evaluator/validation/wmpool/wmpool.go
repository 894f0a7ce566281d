// Package wmpool builds validation pools (evaluator/validation) of paired
// keep-out-zone episodes from a learned world model: for each initial
// condition of scenarios.PushTSafety the same policy runs twice, closed
// loop on each side,
//
//   - real: in the reference PushT simulator (policy/trial, started from the
//     initial condition's state); the real outcome is whether the pusher
//     disc overlapped the zone at any step (scenarios.Zone.Violation on the
//     simulator's pusher positions, the ground truth);
//   - imagined: inside the world model (evaluator/imagine), started from the
//     real first camera frame and pusher position of the same initial
//     condition, the policy acting on the model's predicted frames, judged
//     from them (the episode stops at the judge's first success).
//
// The world model's features come only from what it predicted: its
// predicted pusher positions (its proprioception output, from which it
// also renders its frames) against the scenario's keep-out zone, and the
// judge's reading of its predicted frames. Nothing on the imagined side
// reads the simulator's state; the simulator only renders the shared first
// frame, as the robot's camera would.
package wmpool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"dreamrank/evaluator/imagine"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/trial"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
)

// Total episodes of a build, for progress: N real and N*(1+draws)
// imagined.
func (c Config) total() int { return c.N * (2 + c.draws()) }

// draws is the number of extra imagined episodes per initial condition.
func (c Config) draws() int { return len(c.Draws) + len(c.ModelDraws) }

// sides are the imagined episodes of each initial condition: the policy in
// the model, then each policy draw in the model, then the policy in each
// model draw.
func (c Config) sides() []side {
	out := []side{{c.Policy, c.Model}}
	for _, p := range c.Draws {
		out = append(out, side{p, c.Model})
	}
	for _, m := range c.ModelDraws {
		out = append(out, side{c.Policy, m})
	}
	return out
}

type side struct {
	policy policy.Policy
	model  worldmodel.Model
}

// ErrConfig is returned for a build that cannot run as configured.
var ErrConfig = errors.New("wmpool: bad configuration")

// Config sets a pool build. Zero fields take the defaults in brackets.
type Config struct {
	N         int   // initial conditions [1000]
	FirstSeed int64 // scenario seeds FirstSeed..FirstSeed+N-1 [0]
	// Arm names the policy for the pool's description; Policy and Steer are
	// what runs on both sides [required: Policy].
	Arm    string
	Policy policy.Policy
	Steer  *policy.Context
	// Draws are extra imagined episodes per initial condition, one per
	// policy: for a stochastic policy (the scripted arms below quality 5
	// draw noise and mistakes) the same policy with other random seeds,
	// so that the mean over Policy and Draws estimates the chance of a
	// violation from that initial condition rather than one draw of it.
	// With draws the pool also has the EnsembleFeatureNames.
	Draws []policy.Policy
	// ModelDraws are extra imagined episodes per initial condition, one per
	// model, with Policy: perturbed draws of the world model (for the
	// objects backend, its noise and seed options), so that for a
	// deterministic policy the mean estimates how likely a violation is
	// under the model's own uncertainty rather than trusting one rollout.
	// They also add the EnsembleFeatureNames.
	ModelDraws []worldmodel.Model
	// DrawSeeds are the seeds of ModelDraws, in order, recorded in the
	// pool so that builds with disjoint draws can be joined (Join)
	// [optional; when set, one per model draw].
	DrawSeeds []int
	// Model is the world model and ModelName its name in the description
	// [required: Model]; Judge reads its predicted frames [required].
	Model     worldmodel.Model
	ModelName string
	Judge     judge.Judge
	// Horizon caps every episode on both sides [pusht.MaxSteps]; the
	// pool's outcome is then "violation within Horizon steps".
	Horizon int
	// Execute is how many actions of each chunk run before the policy is
	// asked again, on both sides [0: half the chunk].
	Execute int
	// Batch is how many initial conditions run together on each side [200].
	Batch int
	// Progress, if set, is told about finished episodes (both sides: total
	// is N*(2+len(Draws)+len(ModelDraws))).
	Progress func(done, total int)
	// Batched, if set, gets the pool so far after every batch (to save
	// it, so that a stopped build keeps its finished batches).
	Batched func(validation.Pool, Stats) error
}

func (c Config) withDefaults() (Config, error) {
	if c.N == 0 {
		c.N = 1000
	}
	if c.Horizon == 0 {
		c.Horizon = pusht.MaxSteps
	}
	if c.Batch == 0 {
		c.Batch = 200
	}
	switch {
	case c.Policy == nil || c.Model == nil || c.Judge == nil:
		return c, fmt.Errorf("%w: policy, world model and judge are required", ErrConfig)
	case c.N < 0 || c.Horizon < 1 || c.Batch < 1 || c.Execute < 0:
		return c, fmt.Errorf("%w: n %d, horizon %d, batch %d, execute %d", ErrConfig, c.N, c.Horizon, c.Batch, c.Execute)
	case c.DrawSeeds != nil && len(c.DrawSeeds) != len(c.ModelDraws):
		return c, fmt.Errorf("%w: %d draw seeds for %d model draws", ErrConfig, len(c.DrawSeeds), len(c.ModelDraws))
	}
	return c, nil
}

// FeatureNames are the world model's features of an imagined episode, most
// informative first (the stratified estimator uses leading features when a
// stratum has few episodes). Clearance is the distance between the
// predicted pusher disc and the zone (negative inside); fractions are of
// the horizon.
var FeatureNames = []string{
	"pred_violation",            // 1 if the predicted pusher disc overlapped the zone at any step
	"pred_min_clearance_px",     // smallest predicted clearance, clipped to [-40, 120]
	"pred_first_violation_frac", // first predicted violating step (1 when none): late predictions are less reliable
	"pred_closest_step_frac",    // step of the closest approach: when it happens
	"pred_near_steps_frac",      // steps spent within NearPx of the zone
	"pred_min_clearance_early",  // smallest predicted clearance over the first EarlySteps steps, clipped
	"pred_steps_frac",           // imagined episode length (it stops at the judge's first success)
	"pred_max_reward",           // judge's best coverage reward over the imagined frames
	"pred_success",              // 1 if the judge saw success
}

// EnsembleFeatureNames are the features of a pool built with draws: each
// FeatureNames entry's mean over the 1+len(Draws) imagined episodes of the
// initial condition (ens_violation is the fraction predicted to violate).
var EnsembleFeatureNames = func() []string {
	out := make([]string, len(FeatureNames))
	for i, n := range FeatureNames {
		out[i] = "ens_" + strings.TrimPrefix(n, "pred_")
	}
	return out
}()

// EnsembleFeatures is an initial condition's feature vector from the
// FeatureNames of each of its imagined rollouts, the first rollout (the
// policy in the model itself) first: with one rollout its features alone;
// with more, its features followed by each feature's mean over all of them
// (EnsembleFeatureNames, so ens_violation is the fraction that violate).
// Pools (Build) and the job workers (ops/worker) both compute their
// features with it. Every rollout must have the same number of features (it
// panics otherwise); it returns nil for none and does not modify its
// argument.
func EnsembleFeatures(perRollout [][]float64) []float64 {
	if len(perRollout) == 0 {
		return nil
	}
	out := slices.Clone(perRollout[0])
	if len(perRollout) == 1 {
		return out
	}
	n := float64(len(perRollout))
	ens := make([]float64, len(out))
	for _, f := range perRollout {
		if len(f) != len(ens) {
			panic(fmt.Sprintf("wmpool: EnsembleFeatures: rollouts of %d and %d features", len(ens), len(f)))
		}
		for k, v := range f {
			ens[k] += v / n // summed in rollout order, each term divided: the arithmetic of every pool built so far
		}
	}
	return append(out, ens...)
}

// Feature constants.
const (
	NearPx     = 20.0 // "near the zone" for pred_near_steps_frac
	EarlySteps = 50   // pred_min_clearance_early's window (5 s at 10 Hz)
)

// clip is the range clearances are clipped to, as the synthetic pool's.
func clip(c float64) float64 { return math.Max(-40, math.Min(120, c)) }

// Features computes FeatureNames from an imagined pusher path (start
// first), the judge's best reward and success. It sees only predictions
// and the scenario's zone.
func Features(zone scenarios.Zone, path [][2]float64, maxReward float64, success bool, horizon int) []float64 {
	violated, first, minC := zone.Violation(path)
	closest, near, early := 0, 0, math.Inf(1)
	for t, p := range path {
		c := zone.Clearance(p[0], p[1])
		if c == minC && closest == 0 {
			closest = t
		}
		if c < NearPx {
			near++
		}
		if t <= EarlySteps {
			early = math.Min(early, c)
		}
	}
	h := float64(horizon)
	f := []float64{0, clip(minC), 1, float64(closest) / h, float64(near) / (h + 1), clip(early), float64(len(path)-1) / h, maxReward, 0}
	if violated {
		f[0], f[2] = 1, float64(first)/h
	}
	if success {
		f[8] = 1
	}
	return f
}

// Stats describes a build: where the time went and how the two sides agree.
type Stats struct {
	Records int `json:"records"`
	// RealSeconds and ImaginedSeconds are the wall time of each side,
	// RealSteps and ImaginedSteps their episode steps.
	RealSeconds     float64 `json:"real_seconds"`
	ImaginedSeconds float64 `json:"imagined_seconds"`
	RealSteps       int     `json:"real_steps"`
	ImaginedSteps   int     `json:"imagined_steps"`
	// RealViolations and PredictedViolations count episodes with a
	// violation on each side; Confusion[real][predicted] the pairs.
	RealViolations      int       `json:"real_violations"`
	PredictedViolations int       `json:"predicted_violations"`
	Confusion           [2][2]int `json:"confusion"`
	RealSuccesses       int       `json:"real_successes"`
	ImaginedSuccesses   int       `json:"imagined_successes"`
	// FirstViolation is the real episodes' first violating step (-1 when
	// none), in seed order: how long a horizon decides the outcome.
	FirstViolation []int `json:"first_violation"`
}

// Start returns the first observation of a safety initial condition as the
// robot's camera and proprioception report it (the zone is not drawn: the
// scripted policies read the standard frame).
func Start(in scenarios.SafetyInit) worldmodel.Observation {
	env := pusht.New(pusht.Config{})
	Place(env, in)
	o := env.Observe()
	return worldmodel.Observation{Frame: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}
}

// Place puts the simulator in a safety initial condition (the zone is
// the scenario's, not the simulator's).
func Place(env *pusht.Env, in scenarios.SafetyInit) {
	env.SetState(pusht.State{
		Agent: pusht.Vec2{X: in.Agent[0], Y: in.Agent[1]},
		Block: pusht.Pose{X: in.Block[0], Y: in.Block[1], Angle: in.Block[2]},
	})
}

// Build plays cfg.N initial conditions on both sides, batch by batch, and
// returns the pool (records in seed order) and the build's statistics. A
// pool too small for the harness is returned with the validation error.
func Build(ctx context.Context, cfg Config) (validation.Pool, Stats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return validation.Pool{}, Stats{}, err
	}
	pool := validation.Pool{
		Name:          "wm-pusht-safety",
		CriticalNames: scenarios.SafetyCriticalNames,
		FeatureNames:  FeatureNames,
		Strata:        scenarios.SafetyStrata(),
	}
	if cfg.draws() > 0 {
		pool.FeatureNames = append(slices.Clone(FeatureNames), EnsembleFeatureNames...)
	}
	pool.DrawSeeds = slices.Clone(cfg.DrawSeeds)
	// The description names the seeds the pool holds so far.
	describe := func() {
		pool.Description = fmt.Sprintf("PushT keep-out-zone scenario, seeds %d..%d, policy %s on both sides, closed loop, horizon %d steps: "+
			"real = reference simulator (violation from its pusher positions); imagined = world model %s from the same real first frame, "+
			"features from its predicted pusher positions and the judge on its predicted frames",
			cfg.FirstSeed, cfg.FirstSeed+int64(len(pool.Records))-1, cfg.Arm, cfg.Horizon, cfg.ModelName)
		if len(cfg.Draws) > 0 {
			pool.Description += fmt.Sprintf("; ens_* features: means over %d imagined episodes per initial condition (the policy and %d more random seeds of it)", 1+len(cfg.Draws), len(cfg.Draws))
		}
		if len(cfg.ModelDraws) > 0 {
			pool.Description += fmt.Sprintf("; ens_* features: means over %d imagined episodes per initial condition (the model and %d perturbed draws of it)", 1+cfg.draws(), len(cfg.ModelDraws))
		}
	}
	var st Stats
	done := 0
	for lo := 0; lo < cfg.N; lo += cfg.Batch {
		hi := min(cfg.N, lo+cfg.Batch)
		recs, err := batch(ctx, cfg, lo, hi, &st, func(n int) {
			if cfg.Progress != nil {
				cfg.Progress(done+n, cfg.total())
			}
		})
		if err != nil {
			return validation.Pool{}, st, err
		}
		done += (hi - lo) * (2 + cfg.draws())
		pool.Records = append(pool.Records, recs...)
		for s := lo; s < hi; s++ {
			pool.Seeds = append(pool.Seeds, cfg.FirstSeed+int64(s))
		}
		st.Records = len(pool.Records)
		describe()
		if cfg.Batched != nil {
			if err := cfg.Batched(pool, st); err != nil {
				return pool, st, err
			}
		}
	}
	return pool, st, pool.Validate()
}

// batch runs seeds FirstSeed+lo..FirstSeed+hi-1 on both sides.
func batch(ctx context.Context, cfg Config, lo, hi int, st *Stats, prog func(done int)) ([]validation.Record, error) {
	seeds := make([]int64, hi-lo)
	ins := map[int64]scenarios.SafetyInit{}
	for i := range seeds {
		seeds[i] = cfg.FirstSeed + int64(lo+i)
		ins[seeds[i]] = scenarios.PushTSafety{}.Sample(seeds[i])
	}
	realPath := map[int64][][2]float64{}
	t0 := time.Now()
	sum, err := trial.Run(ctx, cfg.Policy, trial.Config{
		Seeds: seeds, Execute: cfg.Execute, Steer: cfg.Steer, MaxSteps: cfg.Horizon,
		Start:    func(env *pusht.Env, seed int64) { Place(env, ins[seed]) },
		Path:     func(seed int64, p [][2]float64) { realPath[seed] = p },
		Progress: func(done, _ int) { prog(done) },
	})
	if err != nil {
		return nil, fmt.Errorf("wmpool: real episodes: %w", err)
	}
	st.RealSeconds += time.Since(t0).Seconds()
	t0 = time.Now()
	start := func(ctx context.Context, seed int64) (worldmodel.Observation, error) {
		return Start(ins[seed]), ctx.Err()
	}
	var draws [][]imagine.Outcome
	for k, sd := range cfg.sides() {
		rep, err := imagine.Run(ctx, imagine.Unit{Arm: cfg.Arm, Seeds: seeds, Steer: cfg.Steer, Horizon: cfg.Horizon, Execute: cfg.Execute, KeepProprio: true},
			sd.policy, sd.model, cfg.Judge, start, func(done, _ int) { prog((1+k)*len(seeds) + done) })
		if err != nil {
			return nil, fmt.Errorf("wmpool: imagined episodes (draw %d): %w", k, err)
		}
		if len(rep.Outcomes) != len(seeds) {
			return nil, fmt.Errorf("wmpool: %d imagined episodes for %d seeds", len(rep.Outcomes), len(seeds))
		}
		draws = append(draws, rep.Outcomes)
	}
	st.ImaginedSeconds += time.Since(t0).Seconds()
	if len(sum.Results) != len(seeds) {
		return nil, fmt.Errorf("wmpool: %d real episodes for %d seeds", len(sum.Results), len(seeds))
	}
	recs := make([]validation.Record, len(seeds))
	for i, seed := range seeds {
		in, r, o := ins[seed], sum.Results[i], draws[0][i]
		if r.Seed != seed {
			return nil, fmt.Errorf("wmpool: seed %d paired with real %d", seed, r.Seed)
		}
		violated, first, _ := in.Zone.Violation(realPath[seed])
		rec := validation.Record{Critical: in.Critical}
		perRollout := make([][]float64, len(draws))
		for k, d := range draws {
			if d[i].Seed != seed {
				return nil, fmt.Errorf("wmpool: seed %d paired with imagined %d", seed, d[i].Seed)
			}
			perRollout[k] = Features(in.Zone, path(d[i].Proprio), d[i].MaxReward, d[i].Success, cfg.Horizon)
			st.ImaginedSteps += d[i].Steps
		}
		rec.Features = EnsembleFeatures(perRollout)
		if violated {
			rec.Real = 1
		}
		recs[i] = rec
		pred := int(rec.Features[0])
		st.Confusion[int(rec.Real)][pred]++
		st.RealViolations += int(rec.Real)
		st.PredictedViolations += pred
		st.RealSteps += r.Steps
		st.FirstViolation = append(st.FirstViolation, first)
		if r.Success {
			st.RealSuccesses++
		}
		if o.Success {
			st.ImaginedSuccesses++
		}
	}
	return recs, nil
}

// path converts imagined PushT proprioception (pusher x, y per step) to
// positions.
func path(proprio [][]float32) [][2]float64 {
	out := make([][2]float64, len(proprio))
	for t, p := range proprio {
		out[t] = [2]float64{float64(p[0]), float64(p[1])}
	}
	return out
}
