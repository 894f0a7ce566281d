package foresight

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/policy"
	"dreamrank/policy/flow"
	"dreamrank/policy/zoo"
)

// BasePolicy opens the flow policy named by `foresight train --policy`: a
// zoo arm whose backend is flow (or foresight: its base), or a flow
// checkpoint directory. It returns the policy and its checkpoint.
func BasePolicy(ctx context.Context, name string) (*flow.Policy, string, error) {
	path := name
	if arm, err := zoo.Default().Arm(name); err == nil {
		if arm.Backend != flow.Name && arm.Backend != Name {
			return nil, "", fmt.Errorf("--policy %s: backend %q, want a flow policy", name, arm.Backend)
		}
		path = arm.Options["checkpoint"]
	} else if _, serr := os.Stat(name); serr != nil {
		return nil, "", fmt.Errorf("--policy %q is neither a zoo arm nor a checkpoint directory: %w", name, err)
	}
	p, err := flow.New(ctx, policy.Options{"checkpoint": path})
	return p, path, err
}

// Run is one `dreamrank foresight train`: the teacher (once per policy,
// unless the mode needs none) and an adapter trained for a flow policy on
// the episode store, with the summary written beside the adapter as
// training.json.
type Run struct {
	// Policy is the base policy (BasePolicy).
	Policy string
	// Data holds the episode store; the frozen encoder's features are
	// cached in Data/foresight.
	Data string
	// Name is the adapter's ("": foresight, shuffled or no-teacher by
	// Config.Mode); Out its checkpoint directory ("":
	// <checkpoint>/adapters/<Name>).
	Name, Out string
	// MaxEpisodes is the most training episodes per source (0: all).
	MaxEpisodes int
	Config      Config
	// Examples, when set, are the store's examples already loaded (Load)
	// for the same policy: runs that share them read the store once.
	Examples *flow.Examples
	// Command reproduces the run, for the summary.
	Command string
	// Progress, when set, makes the progress report of a training stage
	// and a function that ends it.
	Progress func(stage string) (func(Progress), func())
}

// Summary is what training.json records of a run.
type Summary struct {
	Policy     string         `json:"policy"`
	Adapter    string         `json:"adapter"`
	Mode       Mode           `json:"mode"`
	Teacher    string         `json:"teacher,omitempty"`
	Params     int            `json:"adapter_params"`
	HeldOut    int            `json:"held_out_episodes"`
	Seconds    float64        `json:"adapter_train_seconds"`
	Result     Result         `json:"result"`
	Command    string         `json:"command"`
	DataCounts map[string]int `json:"train_counts"`
}

// Load reads the store's examples for r's policy, to share between runs
// (Run.Examples). Batches take their seed from each run's Config.
func (r Run) Load(ctx context.Context) (*flow.Examples, error) {
	base, _, err := BasePolicy(ctx, r.Policy)
	if err != nil {
		return nil, err
	}
	return r.load(ctx, base)
}

func (r Run) load(ctx context.Context, base *flow.Policy) (*flow.Examples, error) {
	store, err := episode.Open(r.Data)
	if err != nil {
		return nil, err
	}
	return flow.LoadExamples(ctx, store, base, flow.ExampleConfig{MaxEpisodes: r.MaxEpisodes, Threads: 2,
		Seed: r.Config.Seed, Dropout: flow.DefaultTrainConfig().Dropout,
		FeatureCache: filepath.Join(r.Data, "foresight", "features.bin")}, func(s string) { slog.Info(s) })
}

// Train runs r and returns the summary with its JSON as written.
func (r Run) Train(ctx context.Context) (Summary, []byte, error) {
	cfg := r.Config
	base, ckpt, err := BasePolicy(ctx, r.Policy)
	if err != nil {
		return Summary{}, nil, err
	}
	name, out := r.Name, r.Out
	if name == "" {
		name = map[Mode]string{ModeForesight: "foresight", ModeShuffled: "shuffled", ModeNone: "no-teacher"}[cfg.Mode]
	}
	if out == "" {
		out = filepath.Join(ckpt, AdaptersDir, name)
	}
	ex := r.Examples
	if ex == nil {
		if ex, err = r.load(ctx, base); err != nil {
			return Summary{}, nil, err
		}
	}
	train, held := Split(ex, cfg.HeldOut)
	slog.Info("split", "train_episodes", train.Episodes(), "train_steps", train.Steps(),
		"held_out_episodes", held.Episodes(), "held_out_steps", held.Steps())
	report := func(stage string) (func(Progress), func()) {
		if r.Progress == nil {
			return func(Progress) {}, func() {}
		}
		return r.Progress(stage)
	}
	var (
		teacher    *Teacher
		teacherDir string
	)
	tdir := filepath.Join(ckpt, AdaptersDir, TeacherAdapter)
	if cfg.Mode != ModeNone {
		rep, finish := report("training the teacher")
		teacher, teacherDir, err = TrainTeacher(ctx, train, base, cfg, tdir, rep)
		finish()
		if err != nil {
			return Summary{}, nil, err
		}
	} else if teacher, _, err = LoadTeacher(tdir, base); err != nil {
		// The no-teacher control trains without one; a teacher, when
		// there is one, only measures the held-out residual.
		slog.Info("no teacher to measure the held-out residual against", "err", err)
		teacher = nil
	}
	rep, finish := report("training adapter " + name)
	start := time.Now()
	_, res, err := TrainAdapter(ctx, train, held, base, teacher, teacherDir, cfg, out, rep)
	finish()
	if err != nil {
		return Summary{}, nil, err
	}
	summary := Summary{Policy: ckpt, Adapter: out, Mode: cfg.Mode, Teacher: teacherDir, HeldOut: held.Episodes(),
		Seconds: time.Since(start).Seconds(), Result: res, Command: r.Command,
		DataCounts: train.Manifest().Counts}
	if a, err := LoadAdapter(out, base); err == nil {
		summary.Params = a.Params().Count()
	}
	raw, err := json.MarshalIndent(summary, "", "  ")
	if err != nil {
		return Summary{}, nil, err
	}
	if err := os.WriteFile(filepath.Join(out, "training.json"), append(raw, '\n'), 0o644); err != nil {
		return Summary{}, nil, err
	}
	return summary, raw, nil
}

// Study trains every mode, plain and with the observation (Adapter.Obs),
// for each training seed, named <foresight|shuffled|no-teacher>[-obs]-s<seed>
// under the base policy's adapters; adapters whose training.json exists
// are skipped. The store is read once, by the first adapter to train.
// done gets each adapter's name and summary (nil when skipped).
func Study(ctx context.Context, base Run, seeds []uint64, done func(name string, s *Summary)) error {
	_, ckpt, err := BasePolicy(ctx, base.Policy)
	if err != nil {
		return err
	}
	modes := []struct {
		mode Mode
		name string
	}{{ModeForesight, "foresight"}, {ModeShuffled, "shuffled"}, {ModeNone, "no-teacher"}}
	for _, seed := range seeds {
		for _, obs := range []bool{false, true} {
			for _, m := range modes {
				name := m.name
				if obs {
					name += "-obs"
				}
				name += fmt.Sprintf("-s%d", seed)
				if _, err := os.Stat(filepath.Join(ckpt, AdaptersDir, name, "training.json")); err == nil {
					done(name, nil)
					continue
				}
				if base.Examples == nil {
					if base.Examples, err = base.Load(ctx); err != nil {
						return err
					}
				}
				run := base
				run.Name, run.Out = name, ""
				run.Config.Mode, run.Config.Seed, run.Config.Adapter.Obs = m.mode, seed, obs
				s, _, err := run.Train(ctx)
				if err != nil {
					return fmt.Errorf("foresight: adapter %s: %w", name, err)
				}
				done(name, &s)
			}
		}
	}
	return nil
}
