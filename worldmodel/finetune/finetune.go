// Package finetune continues training the structured world model
// (worldmodel/objects) on new episodes and measures its fidelity before and
// after, on the held-out episodes and on the held-out new ones, recording
// the measurement in the fine-tune's dataset manifest.
package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/objects"
	"dreamrank/worldmodel/split"
)

// Fidelity is one evaluation set's fidelity before and after.
type Fidelity struct {
	// Set says which episodes: "held_out" is wm eval's (held-out human
	// demonstrations, plus simulated ones with --with-sim); "held_out_new"
	// the held-out episodes among the new ones (the new distribution).
	Set      string           `json:"set"`
	IDs      []string         `json:"ids,omitempty"`
	Episodes int              `json:"episodes"`
	Windows  int              `json:"windows"`
	Before   fidelity.Metrics `json:"before"`
	After    fidelity.Metrics `json:"after"`
}

// Report is a fine-tune's outcome, as `wm finetune --json` prints it and
// the manifest's fidelity records it.
type Report struct {
	Checkpoint  string            `json:"checkpoint"`
	Parent      objects.ParentRef `json:"parent"`
	FromStep    int               `json:"from_step"`
	ToStep      int               `json:"to_step"`
	Counts      map[string]int    `json:"counts"`
	TrainSecs   float64           `json:"train_seconds"`
	EvalSecs    float64           `json:"eval_seconds"`
	Fidelity    []Fidelity        `json:"fidelity"`
	Unevaluated string            `json:"unevaluated,omitempty"`
}

// Eval says how to measure fidelity before and after.
type Eval struct {
	// Data holds the episode store of the held-out set (split.LoadHeldOut),
	// with its simulated episodes when WithSim.
	Data    string
	WithSim bool
	// MinNew is how many held-out new episodes make the second set.
	MinNew int
	// Limit is the most episodes per set (0: all).
	Limit  int
	Config fidelity.Config
	// Skip skips the evaluation.
	Skip bool
}

// Run fine-tunes (objects.FineTune), evaluates the parent and the result,
// and records the evaluation in the manifest of the new checkpoint; the
// progress bars go to w.
func Run(ctx context.Context, store *episode.Store, cfg objects.FineTuneConfig, ev Eval, w io.Writer) (*Report, error) {
	// The parent, loaded first: fine-tuning in place may prune it.
	var before *objects.Model
	if !ev.Skip {
		var err error
		if before, err = objects.Load(cfg.Parent); err != nil {
			return nil, err
		}
	}
	bar, finish := progress.Bar(w, "fine-tuning")
	from := 0 // the parent's step: the bar counts the fine-tune's own steps
	man, err := objects.FineTune(ctx, store, cfg, func(p objects.TrainProgress) {
		if p.Message != "" {
			slog.Info(p.Message)
			from = max(from, p.Step)
			return
		}
		if p.Checkpoint != "" {
			slog.Info("checkpoint", "path", p.Checkpoint, "step", p.Step, "loss", p.Loss)
		}
		bar(p.Step-from, p.Steps-from)
	})
	finish()
	if err != nil {
		return nil, err
	}
	rep := &Report{Checkpoint: man.Checkpoint, Parent: man.Parent, FromStep: man.FromStep, ToStep: man.ToStep,
		Counts: man.Counts, TrainSecs: man.WallSeconds}
	if ev.Skip {
		return rep, nil
	}
	t0 := time.Now()
	if got := before.Describe()["checkpoint"]; got != man.Parent.Dir {
		return nil, fmt.Errorf("the parent changed during the fine-tune: loaded %s, fine-tuned %s", got, man.Parent.Dir)
	}
	after, err := objects.Load(man.Checkpoint)
	if err != nil {
		return nil, err
	}
	sets := []struct {
		name string
		eps  func() ([]*episode.Episode, error)
	}{
		{"held_out", func() ([]*episode.Episode, error) { return split.LoadHeldOut(ctx, ev.Data, ev.WithSim, ev.Limit) }},
	}
	if n := len(man.HeldOutNewIDs); n >= max(1, ev.MinNew) {
		sets = append(sets, struct {
			name string
			eps  func() ([]*episode.Episode, error)
		}{"held_out_new", func() ([]*episode.Episode, error) {
			var eps []*episode.Episode
			for _, id := range man.HeldOutNewIDs {
				if ev.Limit > 0 && len(eps) == ev.Limit {
					break
				}
				e, err := store.Get(ctx, id)
				if err != nil {
					return nil, err
				}
				eps = append(eps, e)
			}
			return eps, nil
		}})
	} else {
		rep.Unevaluated = fmt.Sprintf("held_out_new: %d held-out new episodes, fewer than --min-new-eval %d", n, ev.MinNew)
	}
	for _, s := range sets {
		eps, err := s.eps()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fs := Fidelity{Set: s.name}
		if s.name == "held_out_new" {
			for _, e := range eps {
				fs.IDs = append(fs.IDs, e.ID)
			}
		}
		for i, m := range []*objects.Model{before, after} {
			bar, finish := progress.Bar(w, fmt.Sprintf("%s: %s", s.name, [2]string{"before", "after"}[i]))
			r, err := fidelity.Evaluate(ctx, m, eps, ev.Config, bar)
			finish()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			fs.Episodes, fs.Windows = r.Episodes, r.Windows
			if i == 0 {
				fs.Before = r.Metrics
			} else {
				fs.After = r.Metrics
			}
		}
		rep.Fidelity = append(rep.Fidelity, fs)
	}
	rep.EvalSecs = time.Since(t0).Seconds()
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	man.Fidelity = b
	if err := man.Write(man.Checkpoint); err != nil {
		return nil, err
	}
	return rep, man.Write(cfg.OutDir)
}
