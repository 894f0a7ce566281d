package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foresight"
	"dreamrank/foundation/progress"
	"dreamrank/policy/zoo"
)

func foresightCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "foresight", Short: "Train and evaluate privileged-foresight adapters of flow policies"}
	cmd.AddCommand(foresightTrainCmd(), foresightEvalCmd())
	return cmd
}

func foresightTrainCmd() *cobra.Command {
	cfg := foresight.DefaultConfig()
	var (
		pol, data, name, out string
		mode                 string
		maxEpisodes          int
		logEvery             int
		asJSON               bool
		study                []uint
	)
	cmd := &cobra.Command{
		Use:   "train --policy NAME",
		Short: "Train a privileged-foresight adapter (or a control) for a flow policy",
		Long: `Train a residual adapter for a flow policy by privileged-foresight
distillation (package foresight, docs/references.md section 5). The teacher is the
policy's own network whose flow head also sees the frozen encoder's features
of the frames --offsets steps ahead; it is trained once per policy (only its
projection of the future) and stored in <checkpoint>/adapters/teacher. The
adapter g(v_base, t) is then trained with --mode:

  foresight  distil the teacher that sees the true future (the method)
  shuffled   distil the same teacher shown a random other step's future (control)
  none       the same training with the ground-truth loss alone (control)

Adapters are versioned checkpoints in <checkpoint>/adapters/<name> (default
name: foresight, shuffled or no-teacher), resumed from there, with the
held-out losses before and after in training.json. Every mode sees the same
batches. The frozen encoder's features are cached in <data>/foresight/.

--study 1,2,3 trains the whole study in one process, reading the store once:
the three modes, each as g(v_base, t) and as the observation extension, for
every training seed given, named <foresight|shuffled|no-teacher>[-obs]-s<seed>;
adapters whose training.json exists are skipped.`,
		Example: `  dreamrank foresight train --policy pose-relative-r1 --data data --study 1,2,3 --steps 3000
  dreamrank foresight train --policy pose-relative-r1 --data data
  dreamrank foresight train --policy pose-relative-r1 --data data --mode shuffled
  dreamrank foresight train --policy pose-relative-r1 --data data --mode none`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Mode = foresight.Mode(mode)
			if len(study) > 0 {
				return foresightStudy(cmd, foresight.Run{Policy: pol, Data: data, MaxEpisodes: maxEpisodes, Config: cfg,
					Command: "dreamrank " + strings.Join(os.Args[1:], " ")}, study, logEvery)
			}
			run := foresight.Run{Policy: pol, Data: data, Name: name, Out: out, MaxEpisodes: maxEpisodes, Config: cfg,
				Command:  "dreamrank " + strings.Join(os.Args[1:], " "),
				Progress: foresightProgress(logEvery)}
			summary, raw, err := run.Train(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				fmt.Println(string(raw))
				return nil
			}
			res := summary.Result
			fmt.Printf("adapter %s (%s)\nheld out before: %s\nheld out after:  %s\n", res.Checkpoint, cfg.Mode, res.Before, res.After)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pol, "policy", "pose-relative-r1", "base policy: a zoo arm of backend flow, or a flow checkpoint directory")
	f.StringVar(&data, "data", "data", "data directory holding the episode store (training episodes)")
	f.StringVar(&name, "adapter", "", "adapter name under <checkpoint>/adapters/ (default: foresight, shuffled or no-teacher by --mode)")
	f.StringVar(&out, "out", "", "adapter checkpoint directory (default <checkpoint>/adapters/<adapter>)")
	f.StringVar(&mode, "mode", string(cfg.Mode), "foresight (the method), shuffled (shuffled-future teacher control) or none (no-teacher control)")
	f.IntSliceVar(&cfg.Offsets, "offsets", cfg.Offsets, "future frames the teacher sees, in steps ahead")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "adapter optimizer steps")
	f.IntVar(&cfg.TeacherSteps, "teacher-steps", cfg.TeacherSteps, "teacher optimizer steps (trained once per policy)")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "examples per step")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "adapter peak learning rate (cosine decay)")
	f.Float64Var(&cfg.TeacherLR, "teacher-lr", cfg.TeacherLR, "teacher peak learning rate")
	f.IntVar(&cfg.Adapter.Hidden, "hidden", cfg.Adapter.Hidden, "adapter MLP width")
	f.IntVar(&cfg.Adapter.Layers, "layers", cfg.Adapter.Layers, "adapter MLP hidden layers")
	f.BoolVar(&cfg.Adapter.Obs, "adapter-obs", false, "extension: the adapter also sees the observation feature, g(v_base, t, obs)")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of batches and initialisation (the same for every mode)")
	f.IntVar(&maxEpisodes, "max-episodes", 0, "training episodes per source (0: all)")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Keep, "keep", cfg.Keep, "checkpoints to keep (0: all)")
	f.IntVar(&logEvery, "log-every", 500, "steps between progress log lines")
	f.BoolVar(&asJSON, "json", false, "print the training summary as JSON")
	f.UintSliceVar(&study, "study", nil, "train every mode, plain and --adapter-obs, for each of these training seeds (see above)")
	return cmd
}

// foresightProgress shows a training stage as a progress bar, with a log
// line for messages, checkpoints and every logEvery steps.
func foresightProgress(logEvery int) func(stage string) (func(foresight.Progress), func()) {
	return func(stage string) (func(foresight.Progress), func()) {
		bar, finish := progress.Bar(os.Stderr, stage)
		return func(p foresight.Progress) {
			switch {
			case p.Message != "":
				slog.Info(p.Message)
			case p.Checkpoint != "":
				slog.Info("checkpoint", "path", p.Checkpoint, "step", p.Step, "loss", p.Loss)
			case p.Step%logEvery == 0:
				slog.Info(p.Stage, "step", p.Step, "loss", p.Loss, "lr", p.LR,
					"examples_per_s", int(p.ExamplesPerSec), "eta", p.ETA.Round(time.Second))
			}
			bar(p.Step, p.Steps)
		}, finish
	}
}

// foresightStudy trains the study's adapters that are not trained yet.
func foresightStudy(cmd *cobra.Command, base foresight.Run, seeds []uint, logEvery int) error {
	base.Progress = foresightProgress(logEvery)
	s64 := make([]uint64, len(seeds))
	for i, v := range seeds {
		s64[i] = uint64(v)
	}
	return foresight.Study(cmd.Context(), base, s64, func(name string, s *foresight.Summary) {
		if s == nil {
			slog.Info("already trained", "adapter", name)
			return
		}
		fmt.Printf("adapter %s (%s): held out before %s; after %s\n", s.Adapter, s.Mode, s.Result.Before, s.Result.After)
	})
}

func foresightEvalCmd() *cobra.Command {
	var (
		arms         []string
		seeds, first int
		calls        int
		asJSON       bool
		out, zooFile string
	)
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Compare a flow policy, its foresight adapter and the two controls in the simulator, with latency",
		Long: `Run each arm (zoo arms; the first is the base) over the PushT test seeds
and print success rate (Wilson 95%), mean max reward (Student t 95%), the
paired difference in max reward against the base on the same seeds (t 95%),
and batch-1 chunk latency measured with the arms interleaved call by call,
plus the adapter's own time per chunk as a fraction of the base's latency.`,
		Example: `  dreamrank foresight eval --json --out results/foresight.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			z := zoo.Default()
			if zooFile != "" {
				var err error
				if z, err = zoo.Load(zooFile); err != nil {
					return err
				}
			}
			cfg := foresight.EvalConfig{LatencyCalls: calls}
			if cmd.Flags().Changed("seeds") || cmd.Flags().Changed("first-seed") {
				for i := 0; i < seeds; i++ {
					cfg.Seeds = append(cfg.Seeds, int64(first+i))
				}
			}
			var finish func()
			cfg.Progress = func(arm string) progress.Func {
				if finish != nil {
					finish()
				}
				var bar progress.Func
				bar, finish = progress.Bar(os.Stderr, arm+" episodes")
				return bar
			}
			rep, err := foresight.Compare(cmd.Context(), z, arms, cfg)
			if finish != nil {
				finish()
			}
			if err != nil {
				return err
			}
			rep.Command = "dreamrank " + strings.Join(os.Args[1:], " ")
			raw, err := json.MarshalIndent(rep, "", "  ")
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, append(raw, '\n'), 0o644); err != nil {
					return err
				}
			}
			if asJSON {
				fmt.Println(string(raw))
				return nil
			}
			fmt.Print(rep.Markdown())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&arms, "arms", foresight.DefaultArms, "zoo arms to compare, the base first")
	f.IntVar(&seeds, "seeds", 50, "episodes (seeds first-seed..)")
	f.IntVar(&first, "first-seed", 100000, "first seed (default: the 50 standard test seeds)")
	f.IntVar(&calls, "latency-calls", 1000, "timed batch-1 chunks per arm (0: no latency)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&out, "out", "", "also write the JSON report to this file")
	f.StringVar(&zooFile, "zoo", "", "zoo file (default: the committed "+zoo.DefaultPath+")")
	if err := cmd.MarkFlagFilename("out"); err != nil {
		panic(errors.New("foresight eval: " + err.Error()))
	}
	return cmd
}
