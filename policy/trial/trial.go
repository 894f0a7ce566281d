// Package trial measures a policy's true success rate: it runs any
// policy.Policy on the PushT simulator over a set of seeds (legacy reset per
// seed, by default the 50 standard test seeds) and summarises the episodes.
//
// Episodes run in lockstep: every round makes one batched Act call for all
// episodes still running, then each episode executes the first Execute
// actions of its chunk (default half the chunk, the receding-horizon
// convention of Diffusion Policy) until it succeeds or reaches the step
// limit. The policy sees exactly what a robot reports and what the episode
// store records: the 96x96 RGB camera frame rendered from the state it acts
// on, and the pusher position as proprioception. Simulation and rendering of
// the episodes run in parallel between Act calls. For a deterministic policy
// the result depends only on the seeds.
package trial

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/expert"
	"dreamrank/scenarios"
)

// ErrBadAction reports a chunk the simulator cannot execute (too few
// values per action, or values that are not finite numbers).
var ErrBadAction = errors.New("trial: bad action")

// Config says how to run the trial. The zero value runs the 50 standard test
// seeds without steering, executing half of each chunk.
type Config struct {
	// Seeds of the legacy reset, one episode each; nil means
	// expert.TestSeeds().
	Seeds []int64
	// Execute is how many actions of each chunk are executed before the
	// policy is asked again; 0 means the policy's preference (Spec.Execute),
	// else half the chunk (at least one). Chunks shorter than Execute are
	// executed whole.
	Execute int
	// Steer is the steering context given with every observation; nil means
	// no steering (Act gets a nil context slice).
	Steer *policy.Context
	// MaxSteps caps each episode; 0 means pusht.MaxSteps.
	MaxSteps int
	// Workers simulate and render episodes in parallel; 0 means GOMAXPROCS.
	Workers int
	// Progress, if set, gets the number of finished episodes after every
	// round.
	Progress progress.Func
	// Record, if set, writes every episode to the store as it finishes.
	Record *Recording
	// Start, if set, sets each episode's initial state instead of the
	// legacy reset of its seed (for scenarios with initial conditions of
	// their own, such as scenarios.PushTSafety).
	Start func(env *pusht.Env, seed int64)
	// Subgoal, if set, gives a subgoal image for each observation (added to
	// Steer's context, which must then be set); it may read the episode's
	// environment, which it must not change (Clone it to look ahead).
	Subgoal func(ctx context.Context, env *pusht.Env) ([]uint8, error)
	// Path, if set, gets each episode's pusher positions (at the start and
	// after every step) when the episode finishes, on Run's goroutine.
	Path func(seed int64, path [][2]float64)
}

// Recording says where and how episodes are recorded.
type Recording struct {
	Store *episode.Store
	// Policy names the policy in the episodes' metadata.
	Policy string
	// Scenario and Instruction name the scenario in the episodes' metadata
	// [PushT's]: set them with Config.Start for a scenario of its own.
	Scenario, Instruction string
	Put                   episode.PutOptions
}

// Result is one episode.
type Result struct {
	Seed      int64   `json:"seed"`
	Success   bool    `json:"success"`
	MaxReward float64 `json:"max_reward"`
	Steps     int     `json:"steps"`
	// StepsToSuccess is the step count when success was first reached, -1
	// if never.
	StepsToSuccess int `json:"steps_to_success"`
	// EpisodeID is the recorded episode's id, if recorded.
	EpisodeID string `json:"episode_id,omitempty"`
}

// Summary aggregates a trial.
type Summary struct {
	Episodes    int     `json:"episodes"`
	Successes   int     `json:"successes"`
	SuccessRate float64 `json:"success_rate"`
	// SuccessCI is the Wilson score 95% interval of the success rate.
	SuccessCI     [2]float64 `json:"success_ci"`
	MeanMaxReward float64    `json:"mean_max_reward"`
	// MeanSteps is the mean episode length (failures count in full).
	MeanSteps float64 `json:"mean_steps"`
	// MeanStepsToSuccess averages successful episodes; nil if there are none
	// (NaN has no JSON form).
	MeanStepsToSuccess *float64 `json:"mean_steps_to_success"`
	// Chunks counts Act calls (rounds), ActSeconds the time spent in them.
	Chunks      int      `json:"chunks"`
	ActSeconds  float64  `json:"act_seconds"`
	WallSeconds float64  `json:"wall_seconds"`
	Results     []Result `json:"results,omitempty"`
}

// Summarize aggregates results.
func Summarize(results []Result) Summary {
	s := Summary{Episodes: len(results), Results: results, SuccessCI: [2]float64{0, 1}}
	if len(results) == 0 {
		return s
	}
	succSteps := 0
	for _, r := range results {
		s.MeanMaxReward += r.MaxReward
		s.MeanSteps += float64(r.Steps)
		if r.Success {
			s.Successes++
			succSteps += r.StepsToSuccess
		}
	}
	n := float64(len(results))
	s.MeanMaxReward /= n
	s.MeanSteps /= n
	s.SuccessRate = float64(s.Successes) / n
	if s.Successes > 0 {
		m := float64(succSteps) / float64(s.Successes)
		s.MeanStepsToSuccess = &m
	}
	s.SuccessCI[0], s.SuccessCI[1] = expert.Wilson(s.Successes, len(results), 1.959964)
	return s
}

// run is one episode in progress.
type run struct {
	env  *pusht.Env
	res  Result
	obs  pusht.Observation // what the policy sees next
	done bool
	err  error
	// Recorded steps, when recording.
	frames  [][]uint8
	proprio [][]float32
	actions [][]float32
	truth   [][]float32
	rewards []float32
	cover   float64
	tracing bool         // keep the pusher's positions in path
	path    [][2]float64 // for Config.Path
}

// Run plays one episode per seed with p and summarises them.
func Run(ctx context.Context, p policy.Policy, cfg Config) (Summary, error) {
	start := time.Now()
	seeds := cfg.Seeds
	if seeds == nil {
		seeds = expert.TestSeeds()
	}
	maxSteps := cfg.MaxSteps
	if maxSteps == 0 {
		maxSteps = pusht.MaxSteps
	}
	if maxSteps < 0 || cfg.Execute < 0 {
		return Summary{}, fmt.Errorf("trial: negative MaxSteps %d or Execute %d", cfg.MaxSteps, cfg.Execute)
	}
	if cfg.Subgoal != nil && cfg.Steer == nil {
		return Summary{}, fmt.Errorf("%w: subgoals need a steering context to carry them", policy.ErrBadInput)
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	spec := p.Spec()
	if spec.FrameLen() > 0 && spec.FrameLen() != pusht.ObsSize*pusht.ObsSize*3 {
		return Summary{}, fmt.Errorf("%w: policy wants %dx%dx%d frames, PushT's camera gives %dx%dx3",
			policy.ErrBadInput, spec.FrameH, spec.FrameW, spec.Channels, pusht.ObsSize, pusht.ObsSize)
	}
	runs := make([]*run, len(seeds))
	parallel(len(seeds), workers, func(i int) {
		r := &run{env: pusht.New(pusht.Config{}), res: Result{Seed: seeds[i], StepsToSuccess: -1}, tracing: cfg.Path != nil}
		if cfg.Start != nil {
			cfg.Start(r.env, seeds[i])
		} else {
			r.env.ResetLegacy(seeds[i])
		}
		r.obs = r.env.Observe()
		if r.tracing {
			r.path = append(r.path, [2]float64{r.obs.Agent.X, r.obs.Agent.Y})
		}
		runs[i] = r
	})
	finished := 0
	var sum Summary
	var actTime time.Duration
	for finished < len(runs) {
		if err := ctx.Err(); err != nil {
			return Summary{}, fmt.Errorf("trial: %w", err)
		}
		var active []*run
		var obs []policy.Observation
		var steer []policy.Context
		for _, r := range runs {
			if r.done {
				continue
			}
			active = append(active, r)
			obs = append(obs, policy.Observation{
				Image:   r.obs.Image,
				Proprio: []float32{float32(r.obs.Agent.X), float32(r.obs.Agent.Y)},
			})
			if cfg.Steer != nil {
				steer = append(steer, *cfg.Steer)
			}
		}
		if cfg.Subgoal != nil {
			if err := subgoals(ctx, cfg.Subgoal, active, steer, workers); err != nil {
				return Summary{}, err
			}
		}
		t0 := time.Now()
		chunks, err := p.Act(ctx, obs, steer)
		actTime += time.Since(t0)
		sum.Chunks++
		if err != nil {
			return Summary{}, fmt.Errorf("trial: act on %d observations: %w", len(obs), err)
		}
		if err := spec.ValidateChunks(chunks, len(obs)); err != nil {
			return Summary{}, fmt.Errorf("trial: policy output: %w", err)
		}
		parallel(len(active), workers, func(i int) {
			active[i].execute(chunks[i], spec.Executed(cfg.Execute, len(chunks[i].Actions)), maxSteps, cfg.Record != nil)
		})
		for _, r := range active {
			if r.err != nil {
				return Summary{}, fmt.Errorf("trial: seed %d: %w", r.res.Seed, r.err)
			}
			if !r.done {
				continue
			}
			finished++
			if cfg.Path != nil {
				cfg.Path(r.res.Seed, r.path)
				r.path = nil
			}
			if cfg.Record != nil {
				id, err := r.record(ctx, cfg.Record, cfg.Steer)
				if err != nil {
					return Summary{}, err
				}
				r.res.EpisodeID = id
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(finished, len(runs))
		}
	}
	results := make([]Result, len(runs))
	for i, r := range runs {
		results[i] = r.res
	}
	out := Summarize(results)
	out.Chunks, out.ActSeconds, out.WallSeconds = sum.Chunks, actTime.Seconds(), time.Since(start).Seconds()
	return out, nil
}

// execute plays the first n actions of a chunk (n is at most its length).
func (r *run) execute(c policy.Chunk, n, maxSteps int, recording bool) {
	for j := 0; j < n && !r.done; j++ {
		a := c.Actions[j]
		if len(a) < 2 || !finite(a[0]) || !finite(a[1]) {
			r.err = fmt.Errorf("%w: action %d of the chunk is %v", ErrBadAction, j, a)
			r.done = true
			return
		}
		if recording {
			s := r.env.State()
			r.frames = append(r.frames, r.obs.Image)
			r.proprio = append(r.proprio, []float32{float32(s.Agent.X), float32(s.Agent.Y)})
			r.truth = append(r.truth, []float32{float32(s.Agent.X), float32(s.Agent.Y), float32(s.Block.X), float32(s.Block.Y), float32(s.Block.Angle)})
			r.actions = append(r.actions, []float32{a[0], a[1]})
		}
		info := r.env.Step(pusht.Vec2{X: float64(a[0]), Y: float64(a[1])})
		r.res.Steps++
		if r.tracing {
			s := r.env.State()
			r.path = append(r.path, [2]float64{s.Agent.X, s.Agent.Y})
		}
		r.res.MaxReward = max(r.res.MaxReward, info.Reward)
		r.cover = info.Coverage
		if recording {
			r.rewards = append(r.rewards, float32(info.Reward))
		}
		if info.Success {
			r.res.Success, r.res.StepsToSuccess = true, r.res.Steps
		}
		r.done = info.Success || r.res.Steps >= maxSteps
		// The next observation is needed for the next action's record and
		// for the policy's next call; skip rendering otherwise.
		if !r.done && (recording || j == n-1) {
			r.obs = r.env.Observe()
		}
	}
}

func finite(v float32) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// record writes the finished episode in the store's format, as expert
// episodes are written: step t pairs the frame and proprioception of the
// state the action was chosen in with that action.
func (r *run) record(ctx context.Context, rec *Recording, steer *policy.Context) (string, error) {
	sc := scenarios.PushT()
	seed := r.res.Seed
	name, instruction := cmp.Or(rec.Scenario, sc.Name), cmp.Or(rec.Instruction, sc.Instruction)
	ep := &episode.Episode{Meta: episode.Meta{
		ID: episode.NewID(), Source: "sim", Policy: rec.Policy, Scenario: name, Seed: &seed,
		Instruction: instruction,
		Outcome:     &episode.Outcome{Success: r.res.Success, MaxReward: r.res.MaxReward, FinalCoverage: r.cover},
		Created:     time.Now().UTC(),
	}}
	if steer != nil {
		if steer.Task != "" {
			ep.Instruction = steer.Task
		}
		// The steering labels the episode was asked for; for the policy's
		// actual behaviour see the outcome.
		if m := steer.Metadata; m.Speed != "" || m.Quality != 0 || m.Mistake != nil {
			ep.Extra = map[string]string{}
			ep.Extra["steer_speed"] = m.Speed
			ep.Extra["steer_quality"] = fmt.Sprint(m.Quality)
			if m.Mistake != nil {
				ep.Extra["steer_mistake"] = fmt.Sprint(*m.Mistake)
			}
		}
	}
	ep.Frames, ep.Proprio, ep.Actions, ep.GroundTruth, ep.Rewards = r.frames, r.proprio, r.actions, r.truth, r.rewards
	for t := range r.frames {
		ep.Timestamps = append(ep.Timestamps, float64(t)/sc.ControlHz)
	}
	if err := rec.Store.Put(ctx, ep, rec.Put); err != nil {
		return "", fmt.Errorf("trial: record seed %d: %w", seed, err)
	}
	// Free the frames: a long trial would otherwise hold every episode.
	r.frames, r.proprio, r.actions, r.truth, r.rewards = nil, nil, nil, nil, nil
	return ep.ID, nil
}

// parallel calls f(0..n-1) on up to workers goroutines.
// subgoals adds a subgoal image of each active episode to its context.
func subgoals(ctx context.Context, sub func(context.Context, *pusht.Env) ([]uint8, error), active []*run, steer []policy.Context, workers int) error {
	errs := make([]error, len(active))
	parallel(len(active), workers, func(i int) {
		g, err := sub(ctx, active[i].env)
		if err != nil {
			errs[i] = fmt.Errorf("trial: subgoal of seed %d: %w", active[i].res.Seed, err)
			return
		}
		steer[i].SubgoalImages = [][]uint8{g}
	})
	return errors.Join(errs...)
}

func parallel(n, workers int, f func(i int)) {
	if workers <= 1 || n <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
