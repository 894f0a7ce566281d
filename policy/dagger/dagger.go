// Package dagger trains a flow policy on the pose reader's front end
// (flow.EncoderPose) by behaviour cloning plus DAgger: the learner is rolled
// out in the simulator on training seeds, every observation it is asked
// about is relabelled with the chunk the scripted expert (policy/scripted,
// itself a stateless reader of the same frames) would play from there, for
// the same steering metadata, and the head is trained again on everything
// gathered so far.
//
// Round 0 rolls out the expert itself (its own chunks are the labels); each
// later round rolls out the previous round's checkpoint. Training of round r
// starts from round r-1's weights. The episode store's episodes (human
// demonstrations and scripted-expert episodes with their quality, speed and
// mistake labels), when given, train alongside in every round.
//
// Everything is resumable: the labels of each round (round-NN.labels.json.gz),
// each round's checkpoints (round-NN/) and the per-round held-out success
// (dagger.json) are written under the output directory, and Run skips what
// is there. Rollout seeds never touch the test seeds (100000..100049) or the
// fresh-seed range from 300000 on.
package dagger

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/flow"
	"dreamrank/policy/scripted"
	"dreamrank/policy/trial"
	"dreamrank/scenarios"
)

// Config is one DAgger run.
type Config struct {
	// Train is each round's head training: Model (the pose encoder),
	// HeadSteps per round, batch, learning rate, dropout; OutDir is the
	// run's root directory.
	Train flow.TrainConfig `json:"train"`
	// Data is an episode-store directory whose episodes train alongside
	// ("" for none).
	Data string `json:"data,omitempty"`
	// Rounds is the number of rounds (round 0 rolls out the expert).
	Rounds int `json:"rounds"`
	// Seeds are rollout episodes per round, on seeds FirstSeed + r*Seeds ...
	Seeds     int   `json:"seeds"`
	FirstSeed int64 `json:"first_seed"`
	// EvalSeeds held-out training seeds from EvalFirstSeed measure each
	// round's checkpoint (0: no evaluation).
	EvalSeeds     int   `json:"eval_seeds"`
	EvalFirstSeed int64 `json:"eval_first_seed"`
	// Execute is how many actions of each chunk rollouts execute before the
	// policy is asked again (each ask is one labelled example).
	Execute int `json:"execute"`
	// Contexts are the steering metadata rollouts are run and labelled
	// with, the seeds split evenly between them; evaluation uses the first.
	Contexts []policy.Metadata `json:"contexts"`
	Task     string            `json:"task,omitempty"`
	Workers  int               `json:"workers"`
	// Share is the fraction of each batch drawn from the relabelled
	// examples when Data's episodes train alongside.
	Share float64 `json:"share"`
	// Warm are output directories of earlier runs whose labels train in
	// every round of this one: the states earlier learners visited,
	// labelled by the same expert, stay valid examples for a new head (a
	// new architecture starts from them instead of from the expert's
	// rollouts alone). Their rollout seeds must not overlap this run's.
	Warm []string `json:"warm,omitempty"`
}

// DefaultConfig is the PushT recipe.
func DefaultConfig() Config {
	t := flow.DefaultTrainConfig()
	t.Model = flow.PoseModelConfig()
	t.Steps, t.HeadSteps, t.HeadBatch, t.HeadLR = 0, 6000, 256, 1e-3
	t.CheckpointEvery, t.Keep = 2000, 2
	t.OutDir = "data/policy/pose"
	return Config{Train: t, Rounds: 8, Seeds: 100, FirstSeed: 10000, EvalSeeds: 50, EvalFirstSeed: 200000,
		Execute: 4, Contexts: []policy.Metadata{{Quality: 5, Speed: policy.SpeedNormal}},
		Task: scenarios.PushT().Instruction, Workers: 2, Share: 0.5}
}

// ErrConfig reports a configuration that cannot work.
var ErrConfig = errors.New("dagger: bad configuration")

func (c Config) validate() error {
	switch {
	case c.Train.Model.Encoder != flow.EncoderPose:
		return fmt.Errorf("%w: DAgger relabels pose readings; the model's encoder is %q", ErrConfig, c.Train.Model.Encoder)
	case c.Rounds < 1 || c.Seeds < 1 || c.Execute < 1 || len(c.Contexts) == 0 || c.Train.OutDir == "":
		return fmt.Errorf("%w: rounds %d, seeds %d, execute %d, %d contexts, out %q", ErrConfig, c.Rounds, c.Seeds, c.Execute, len(c.Contexts), c.Train.OutDir)
	}
	last := c.FirstSeed + int64(c.Rounds*c.Seeds)
	for _, r := range [][2]int64{{c.FirstSeed, last}, {c.EvalFirstSeed, c.EvalFirstSeed + int64(c.EvalSeeds)}} {
		if r[1] > r[0] && (overlaps(r, [2]int64{100000, 100050}) || r[1] > 300000) {
			return fmt.Errorf("%w: seeds %d..%d touch the test seeds (100000..100049 or 300000 on)", ErrConfig, r[0], r[1]-1)
		}
	}
	return nil
}

func overlaps(a, b [2]int64) bool { return a[0] < b[1] && b[0] < a[1] }

// Round is what one round did.
type Round struct {
	Round    int    `json:"round"`
	Labelled int    `json:"labelled"` // examples gathered this round
	Total    int    `json:"total"`    // examples trained on (relabelled)
	Behavior string `json:"behavior"` // "expert" or the checkpoint rolled out
	// RolloutSuccess is the behaviour policy's success on the round's
	// rollout seeds.
	RolloutSuccess float64        `json:"rollout_success"`
	Checkpoint     string         `json:"checkpoint"`
	HeadSteps      int            `json:"head_steps,omitempty"` // steps the round trained
	Eval           *trial.Summary `json:"eval,omitempty"`
	CollectSeconds float64        `json:"collect_seconds"`
	TrainSeconds   float64        `json:"train_seconds"`
	EvalSeconds    float64        `json:"eval_seconds"`
}

// State is dagger.json: the configuration and the finished rounds.
type State struct {
	Config Config  `json:"config"`
	Rounds []Round `json:"rounds"`
}

// Progress is reported while running.
type Progress struct {
	Round   int
	Phase   string // "collect", "train", "eval"
	Done    int
	Total   int
	Train   *flow.Progress
	Message string
}

// Run runs (or resumes) the recipe and returns the state.
func Run(ctx context.Context, cfg Config, report func(Progress)) (*State, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if report == nil {
		report = func(Progress) {}
	}
	// The checkpoints run chunks the way their rollouts did.
	cfg.Train.Model.Execute = cfg.Execute
	out := cfg.Train.OutDir
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	// The saved state is decoded into a fresh value: decoding into one
	// holding cfg would write the saved slices (contexts, warm runs) into
	// cfg's own arrays.
	st := &State{}
	if b, err := os.ReadFile(filepath.Join(out, stateFile)); err == nil {
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("dagger: %s: %w", stateFile, err)
		}
	}
	st.Config = cfg
	var eps *flow.Episodes
	if cfg.Data != "" {
		store, err := episode.Open(cfg.Data)
		if err != nil {
			return nil, err
		}
		eps, err = flow.LoadEpisodes(ctx, store, cfg.Train, func(done, total int) {
			report(Progress{Phase: "load", Done: done, Total: total})
		})
		if err != nil {
			return nil, err
		}
		report(Progress{Message: fmt.Sprintf("%d episodes from %s", eps.Len(), cfg.Data)})
	}
	labeller, err := scripted.New(scripted.Config{Workers: cfg.Workers})
	if err != nil {
		return nil, err
	}
	all, err := warmLabels(cfg.Warm)
	if err != nil {
		return st, err
	}
	if len(all) > 0 {
		report(Progress{Message: fmt.Sprintf("%d labels from %d earlier runs", len(all), len(cfg.Warm))})
	}
	prev := ""
	for r := 0; r < cfg.Rounds; r++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		rd := Round{Round: r}
		if r < len(st.Rounds) {
			rd = st.Rounds[r]
		}
		// Collect.
		lpath := filepath.Join(out, fmt.Sprintf("round-%02d.labels.json.gz", r))
		labels, err := readLabels(lpath)
		if errors.Is(err, os.ErrNotExist) {
			t0 := time.Now()
			var behaviour policy.Policy = labeller
			rd.Behavior = "expert"
			if r > 0 {
				lp, err := flow.Load(prev)
				if err != nil {
					return st, err
				}
				behaviour, rd.Behavior = lp, prev
			}
			var succ float64
			labels, succ, err = collect(ctx, cfg, r, behaviour, labeller, r == 0, func(done, total int) {
				report(Progress{Round: r, Phase: "collect", Done: done, Total: total})
			})
			if err != nil {
				return st, err
			}
			if err := writeLabels(lpath, labels); err != nil {
				return st, err
			}
			rd.RolloutSuccess, rd.CollectSeconds = succ, time.Since(t0).Seconds()
			rd.Labelled = len(labels)
			// Saved now, so a run stopped during training still knows
			// how the labels were collected when it resumes.
			st.put(rd)
			if err := st.save(out); err != nil {
				return st, err
			}
		} else if err != nil {
			return st, err
		}
		all = append(all, labels...)
		rd.Total = len(all)
		// Train, unless the round finished training before (a later run
		// with more steps per round trains only the rounds to come).
		if rd.Checkpoint == "" {
			t0 := time.Now()
			tc := cfg.Train
			tc.OutDir = filepath.Join(out, fmt.Sprintf("round-%02d", r))
			tc.Seed = cfg.Train.Seed + uint64(r)
			ck, err := flow.TrainWith(ctx, nil, tc, flow.TrainOptions{Episodes: eps, Extra: all, Tag: fmt.Sprintf("dagger-r%d", r), ExtraShare: cfg.Share, Init: prev},
				func(p flow.Progress) { report(Progress{Round: r, Phase: "train", Train: &p}) })
			if err != nil {
				return st, err
			}
			rd.TrainSeconds, rd.Checkpoint, rd.HeadSteps = time.Since(t0).Seconds(), ck, tc.HeadSteps
		}
		prev = rd.Checkpoint
		// Evaluate.
		if cfg.EvalSeeds > 0 && rd.Eval == nil {
			t0 := time.Now()
			p, err := flow.Load(rd.Checkpoint)
			if err != nil {
				return st, err
			}
			sum, err := trial.Run(ctx, p, trial.Config{Seeds: seedRange(cfg.EvalFirstSeed, cfg.EvalSeeds),
				Steer: &policy.Context{Task: cfg.Task, Metadata: cfg.Contexts[0]}, Workers: cfg.Workers,
				Progress: func(done, total int) { report(Progress{Round: r, Phase: "eval", Done: done, Total: total}) }})
			if err != nil {
				return st, err
			}
			sum.Results = nil
			rd.Eval, rd.EvalSeconds = &sum, time.Since(t0).Seconds()
		}
		st.put(rd)
		if err := st.save(out); err != nil {
			return st, err
		}
		msg := fmt.Sprintf("round %d: %d labelled (%d in all), rollout success %.2f", r, rd.Labelled, rd.Total, rd.RolloutSuccess)
		if rd.Eval != nil {
			msg += fmt.Sprintf(", held-out success %d/%d = %.2f [%.2f, %.2f], mean max reward %.3f",
				rd.Eval.Successes, rd.Eval.Episodes, rd.Eval.SuccessRate, rd.Eval.SuccessCI[0], rd.Eval.SuccessCI[1], rd.Eval.MeanMaxReward)
		}
		report(Progress{Round: r, Phase: "done", Message: msg + "; checkpoint " + rd.Checkpoint})
	}
	return st, nil
}

const stateFile = "dagger.json"

// put records round rd, replacing an earlier record of it.
func (st *State) put(rd Round) {
	if rd.Round < len(st.Rounds) {
		st.Rounds[rd.Round] = rd
	} else {
		st.Rounds = append(st.Rounds, rd)
	}
}

func (st *State) save(dir string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

func seedRange(first int64, n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = first + int64(i)
	}
	return s
}

// collect rolls behaviour out on round r's seeds, split between the
// contexts, and labels every observation it is asked about with the
// labeller's chunk for the same context (own: behaviour is the labeller,
// whose chunks are the labels). It returns the labels and the rollouts'
// success rate.
func collect(ctx context.Context, cfg Config, r int, behaviour, labeller policy.Policy, own bool, progress func(done, total int)) ([]flow.Labelled, float64, error) {
	rec := &recorder{behaviour: behaviour, labeller: labeller, own: own, size: cfg.Train.Model.FrameH}
	seeds := seedRange(cfg.FirstSeed+int64(r*cfg.Seeds), cfg.Seeds)
	succ, done := 0, 0
	for k, m := range cfg.Contexts {
		var part []int64
		for i := k; i < len(seeds); i += len(cfg.Contexts) {
			part = append(part, seeds[i])
		}
		if len(part) == 0 {
			continue
		}
		base := done
		sum, err := trial.Run(ctx, rec, trial.Config{Seeds: part, Execute: cfg.Execute, Workers: cfg.Workers,
			Steer:    &policy.Context{Task: cfg.Task, Metadata: m},
			Progress: func(d, _ int) { progress(base+d, len(seeds)) }})
		if err != nil {
			return nil, 0, fmt.Errorf("dagger: round %d rollouts: %w", r, err)
		}
		succ += sum.Successes
		done += len(part)
	}
	return rec.out, float64(succ) / float64(len(seeds)), nil
}

// recorder is the behaviour policy seen by the simulator: it passes each
// batch on and keeps every observation with the labeller's chunk.
type recorder struct {
	behaviour, labeller policy.Policy
	own                 bool
	size                int
	mu                  sync.Mutex
	out                 []flow.Labelled
}

func (r *recorder) Spec() policy.Spec { return r.behaviour.Spec() }

func (r *recorder) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	chunks, err := r.behaviour.Act(ctx, obs, steer)
	if err != nil {
		return nil, err
	}
	labels := chunks
	if !r.own {
		if labels, err = r.labeller.Act(ctx, obs, steer); err != nil {
			return nil, fmt.Errorf("dagger: relabel: %w", err)
		}
	}
	ls := make([]flow.Labelled, len(obs))
	for i, o := range obs {
		rd, err := pusht.ReadFrame(o.Image, r.size)
		if err != nil {
			return nil, err
		}
		l := flow.Labelled{Reading: rd, Proprio: append([]float32(nil), o.Proprio...), Actions: labels[i].Actions}
		if steer != nil {
			l.Meta, l.Task = steer[i].Metadata, steer[i].Task
		}
		ls[i] = l
	}
	r.mu.Lock()
	r.out = append(r.out, ls...)
	r.mu.Unlock()
	return chunks, nil
}

// warmLabels reads every round's labels of the runs in dirs.
func warmLabels(dirs []string) ([]flow.Labelled, error) {
	var all []flow.Labelled
	for _, d := range dirs {
		paths, err := filepath.Glob(filepath.Join(d, "round-*.labels.json.gz"))
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("%w: %s holds no round labels", ErrConfig, d)
		}
		for _, p := range paths {
			ls, err := readLabels(p)
			if err != nil {
				return nil, fmt.Errorf("dagger: warm labels: %w", err)
			}
			all = append(all, ls...)
		}
	}
	return all, nil
}

func writeLabels(path string, ls []flow.Labelled) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(f)
	err = json.NewEncoder(zw).Encode(ls)
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dagger: write labels: %w", err)
	}
	return os.Rename(tmp, path)
}

func readLabels(path string) ([]flow.Labelled, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("dagger: %s: %w", path, err)
	}
	var ls []flow.Labelled
	if err := json.NewDecoder(zr).Decode(&ls); err != nil {
		return nil, fmt.Errorf("dagger: %s: %w", path, err)
	}
	return ls, nil
}
