package wmfidelity

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	"dreamrank/foundation/progress"
	"dreamrank/ops/job"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/fidelity"
)

// subject is the whole subject of evaluating ref on eps with cfg.
func subject(ctx context.Context, ref job.ModelRef, eps Episodes, cfg fidelity.Config) (Subject, error) {
	s, err := modelSubject(ref)
	if err != nil {
		return s, err
	}
	if s.Episodes, err = eps.Set(ctx); err != nil {
		return s, err
	}
	s.Config = cfg
	return s, nil
}

// Evaluate measures the model ref names on eps, as `dreamrank wm eval`
// does (fidelity.EvaluateWithBaseline), and records what it measured.
// progress (may be nil) counts windows.
func Evaluate(ctx context.Context, ref job.ModelRef, eps Episodes, cfg fidelity.Config, progress progress.Func) (Record, error) {
	sub, err := subject(ctx, ref, eps, cfg)
	if err != nil {
		return Record{}, err
	}
	return evaluate(ctx, ref, sub, eps, progress)
}

func evaluate(ctx context.Context, ref job.ModelRef, sub Subject, eps Episodes, progress progress.Func) (Record, error) {
	began := time.Now()
	episodes, err := eps.Load(ctx)
	if err != nil {
		return Record{}, err
	}
	m, err := worldmodel.Open(ctx, ref.Backend, worldmodel.Options(ref.Options))
	if err != nil {
		return Record{}, fmt.Errorf("wmfidelity: %w", err)
	}
	if c, ok := m.(interface{ Close() error }); ok {
		defer c.Close()
	}
	rep, err := fidelity.EvaluateWithBaseline(ctx, m, episodes, sub.Config, progress)
	if err != nil {
		return Record{}, fmt.Errorf("wmfidelity: %w", err)
	}
	// The model was opened after the subject was taken: numbers of a
	// checkpoint replaced meanwhile must not be filed under the old one.
	again, err := modelSubject(ref)
	if err != nil {
		return Record{}, err
	}
	if !again.SameModel(sub) {
		return Record{}, fmt.Errorf("%w: %s", ErrChanged, ref.Options["checkpoint"])
	}
	return Record{Subject: sub, Report: rep, Computed: time.Now().UTC(), Seconds: time.Since(began).Seconds()}, nil
}

// ReadFile reads a `wm eval --json` file. One written before files
// recorded their subject reads with a nil Subject.
func ReadFile(path string) (File, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("wmfidelity: %w", err)
	}
	var f File
	if err := json.Unmarshal(raw, &f); err != nil {
		return File{}, fmt.Errorf("wmfidelity: %s: %w", path, err)
	}
	if f.Windows == 0 {
		return File{}, fmt.Errorf("wmfidelity: %s: not a wm eval report (no windows)", path)
	}
	return f, nil
}

// Check returns the file as a record if it measured want's model (its
// backend, options and checkpoint identity), else an error wrapping
// ErrMismatch that says what differs.
func (f File) Check(want Subject) (Record, error) {
	switch {
	case f.Subject == nil:
		return Record{}, fmt.Errorf("%w: the file records no checkpoint identity (written by an older wm eval)", ErrMismatch)
	case f.Subject.Backend != want.Backend:
		return Record{}, fmt.Errorf("%w: backend %s, the model's is %s", ErrMismatch, f.Subject.Backend, want.Backend)
	case f.Subject.Checkpoint.DataHash != want.Checkpoint.DataHash:
		return Record{}, fmt.Errorf("%w: data hash %.12s, the checkpoint's is %.12s", ErrMismatch, f.Subject.Checkpoint.DataHash, want.Checkpoint.DataHash)
	case f.Subject.Checkpoint.WeightsSHA256 != want.Checkpoint.WeightsSHA256:
		return Record{}, fmt.Errorf("%w: weights %.12s, the checkpoint's are %.12s", ErrMismatch, f.Subject.Checkpoint.WeightsSHA256, want.Checkpoint.WeightsSHA256)
	case !f.Subject.SameModel(want):
		return Record{}, fmt.Errorf("%w: %+v, the model is %+v", ErrMismatch, *f.Subject, want)
	}
	return Record{Subject: *f.Subject, Report: f.Report}, nil
}

// logProgress logs work at every quarter.
func logProgress(log *slog.Logger, what string) progress.Func {
	began, next := time.Now(), 0
	return func(done, total int) {
		if total <= 0 || done*4 < next*total {
			return
		}
		for done*4 >= next*total {
			next++
		}
		log.Info(what, "done", done, "total", total, "seconds", time.Since(began).Round(time.Second).Seconds())
	}
}
