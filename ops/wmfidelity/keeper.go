package wmfidelity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"dreamrank/ops/job"
	"dreamrank/ops/report"
	"dreamrank/worldmodel/fidelity"
)

// Keeper hands out a model's fidelity numbers only under its subject's
// key, computing them when missing. It is safe for concurrent use.
type Keeper struct {
	Cache    Cache
	Episodes Episodes
	Config   fidelity.Config
	// Wait makes Describe compute missing numbers before it returns, for
	// one-shot runs whose process would end before a background
	// evaluation did.
	Wait bool
	// File is a `wm eval --json` file Describe uses instead, when the
	// checkpoint it records is the model's; otherwise it is refused (and
	// the report says so) and the cache is used.
	File string
	Log  *slog.Logger

	mu      sync.Mutex
	bg      context.Context
	running map[string]*run
	failed  map[string]error // the last computation's error, by model
}

// run is one computation in flight.
type run struct {
	done     chan struct{}
	rec      Record
	computed bool
	err      error

	mu          sync.Mutex
	sub         *Subject // once known
	began       time.Time
	step, total int
}

func (r *run) progress(done, total int) {
	r.mu.Lock()
	r.step, r.total = done, total
	r.mu.Unlock()
}

// Status is where a model's numbers are.
type Status struct {
	State string // report.FidelityReady, FidelityComputing or FidelityUnavailable
	// Record holds the numbers when ready.
	Record Record
	// Subject is what the numbers are (or will be) of, once known.
	Subject *Subject
	Note    string
}

func (k *Keeper) log() *slog.Logger {
	if k.Log != nil {
		return k.Log
	}
	return slog.Default()
}

// modelKey names a model reference (backend and options).
func modelKey(ref job.ModelRef) string {
	var b strings.Builder
	b.WriteString(ref.Backend)
	for _, key := range slices.Sorted(maps.Keys(ref.Options)) {
		fmt.Fprintf(&b, " %s=%s", key, ref.Options[key])
	}
	return b.String()
}

// Warm starts computing ref's numbers in the background when they are
// missing. Background computations, this one and those Status starts
// later (for a checkpoint replaced meanwhile), run until ctx ends.
func (k *Keeper) Warm(ctx context.Context, ref job.ModelRef) {
	k.mu.Lock()
	k.bg = ctx
	k.mu.Unlock()
	k.background(ctx, ref)
}

// background runs Ensure in a goroutine (under Warm's context when there
// was one) and logs its failure.
func (k *Keeper) background(ctx context.Context, ref job.ModelRef) {
	k.mu.Lock()
	if k.bg != nil {
		ctx = k.bg
	}
	k.mu.Unlock()
	go func() {
		if _, _, err := k.Ensure(ctx, ref); err != nil {
			k.log().Warn("fidelity: evaluation failed", "model", modelKey(ref), "err", err)
		}
	}()
}

// Ensure returns ref's numbers, computing and caching them when the cache
// has none for its subject; computed says it did. Concurrent calls for
// one model share one computation.
func (k *Keeper) Ensure(ctx context.Context, ref job.ModelRef) (rec Record, computed bool, err error) {
	mk := modelKey(ref)
	k.mu.Lock()
	if r := k.running[mk]; r != nil {
		k.mu.Unlock()
		select {
		case <-r.done:
			return r.rec, r.computed, r.err
		case <-ctx.Done():
			return Record{}, false, ctx.Err()
		}
	}
	r := &run{done: make(chan struct{}), began: time.Now()}
	if k.running == nil {
		k.running, k.failed = map[string]*run{}, map[string]error{}
	}
	k.running[mk] = r
	k.mu.Unlock()

	r.rec, r.computed, r.err = k.ensure(ctx, ref, r)
	k.mu.Lock()
	delete(k.running, mk)
	if r.err != nil {
		k.failed[mk] = r.err
	} else {
		delete(k.failed, mk)
	}
	k.mu.Unlock()
	close(r.done)
	return r.rec, r.computed, r.err
}

func (k *Keeper) ensure(ctx context.Context, ref job.ModelRef, r *run) (Record, bool, error) {
	if _, err := checkedModel(ref); err != nil { // before importing episodes for nothing
		return Record{}, false, err
	}
	if err := k.Episodes.Prepare(ctx); err != nil {
		return Record{}, false, err
	}
	sub, err := k.subject(ctx, ref)
	if err != nil {
		return Record{}, false, err
	}
	r.mu.Lock()
	r.sub = &sub
	r.mu.Unlock()
	log := k.log().With("backend", sub.Backend, "checkpoint", ref.Options["checkpoint"], "data_hash", short(sub.Checkpoint.DataHash), "weights", short(sub.Checkpoint.WeightsSHA256))
	if rec, ok, err := k.Cache.Get(ctx, sub.Key()); err != nil || ok {
		if ok {
			log.Info("fidelity: cached for this checkpoint", "key", sub.Key(), "computed", rec.Computed)
		}
		return rec, false, err
	}
	log.Info("fidelity: evaluating the checkpoint (no numbers for its identity yet)", "episodes", sub.Episodes.Count)
	lp := logProgress(log, "fidelity: imagining windows")
	rec, err := evaluate(ctx, ref, sub, k.Episodes, func(done, total int) {
		r.progress(done, total)
		lp(done, total)
	})
	if err != nil {
		return Record{}, false, err
	}
	if err := k.Cache.Put(ctx, rec); err != nil {
		return Record{}, false, err
	}
	log.Info("fidelity: evaluated and cached", "key", sub.Key(), "windows", rec.Report.Windows, "seconds", rec.Seconds,
		"block_err_px_8", rec.Report.BlockErrPx8)
	return rec, true, nil
}

// checkedModel is ref's model subject; a model without a checkpoint has
// none worth keeping numbers for.
func checkedModel(ref job.ModelRef) (Subject, error) {
	sub, err := modelSubject(ref)
	if err == nil && sub.Checkpoint.WeightsSHA256 == "" {
		err = fmt.Errorf("%w: backend %s has no checkpoint option", ErrNoCheckpoint, ref.Backend)
	}
	return sub, err
}

// subject is ref's subject under the keeper's episodes and settings.
func (k *Keeper) subject(ctx context.Context, ref job.ModelRef) (Subject, error) {
	sub, err := checkedModel(ref)
	if err != nil {
		return sub, err
	}
	if sub.Episodes, err = k.Episodes.Set(ctx); err != nil {
		return sub, err
	}
	sub.Config = k.Config
	return sub, nil
}

// Status says where ref's numbers are without waiting for them: ready
// (cached under the current subject's key), computing (started in the
// background if it was not already), or unavailable (why; a failed
// computation is retried in the background).
func (k *Keeper) Status(ctx context.Context, ref job.ModelRef) Status {
	mk := modelKey(ref)
	k.mu.Lock()
	r, failed := k.running[mk], k.failed[mk]
	k.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		sub, step, total, began := r.sub, r.step, r.total, r.began
		r.mu.Unlock()
		if cur, err := checkedModel(ref); err == nil && sub != nil && !cur.SameModel(*sub) {
			// Replaced while the old one is measured: say whose numbers
			// are coming, and measure them once the old ones are in.
			go func() {
				<-r.done
				k.background(ctx, ref)
			}()
			return Status{State: report.FidelityComputing, Subject: &cur, Note: "the checkpoint changed during an evaluation of the previous one; this one's follows"}
		}
		st := Status{State: report.FidelityComputing, Subject: sub, Note: "started " + began.UTC().Format(time.RFC3339)}
		if total > 0 {
			st.Note += fmt.Sprintf(", %d of %d windows imagined", step, total)
		}
		return st
	}
	sub, err := k.subject(ctx, ref)
	switch {
	case errors.Is(err, ErrNoEpisodes):
		k.background(ctx, ref) // Prepare may import them
		if failed != nil {
			return Status{State: report.FidelityUnavailable, Note: "the last attempt failed (retrying): " + failed.Error()}
		}
		return Status{State: report.FidelityComputing, Note: "preparing the evaluation episodes"}
	case err != nil:
		return Status{State: report.FidelityUnavailable, Note: err.Error()}
	}
	rec, ok, err := k.Cache.Get(ctx, sub.Key())
	switch {
	case err != nil:
		return Status{State: report.FidelityUnavailable, Subject: &sub, Note: err.Error()}
	case ok:
		return Status{State: report.FidelityReady, Record: rec, Subject: &sub}
	}
	k.background(ctx, ref)
	if failed != nil {
		return Status{State: report.FidelityUnavailable, Subject: &sub, Note: "the last evaluation failed (retrying): " + failed.Error()}
	}
	return Status{State: report.FidelityComputing, Subject: &sub, Note: "not measured for this checkpoint yet; a later report has the numbers"}
}

// Describe fills wm's fidelity for ref: the numbers with what they were
// measured on when ready, else the status and why. With Wait it computes
// missing numbers first.
func (k *Keeper) Describe(ctx context.Context, ref job.ModelRef, wm report.WorldModel) report.WorldModel {
	var notes []string
	if k.File != "" {
		rec, err := k.fromFile(ref)
		if err == nil {
			return fill(wm, Status{State: report.FidelityReady, Record: rec, Subject: &rec.Subject, Note: "from " + k.File})
		}
		k.log().Warn("fidelity: file refused", "file", k.File, "err", err)
		notes = append(notes, fmt.Sprintf("%s refused: %v", k.File, err))
	}
	var st Status
	if k.Wait {
		rec, _, err := k.Ensure(ctx, ref)
		st = Status{State: report.FidelityReady, Record: rec, Subject: &rec.Subject}
		if err != nil {
			st = Status{State: report.FidelityUnavailable, Note: err.Error()}
		}
	} else {
		st = k.Status(ctx, ref)
	}
	if st.Note != "" {
		notes = append(notes, st.Note)
	}
	st.Note = strings.Join(notes, "; ")
	return fill(wm, st)
}

// fromFile is the File's record if it is of ref's checkpoint.
func (k *Keeper) fromFile(ref job.ModelRef) (Record, error) {
	want, err := checkedModel(ref)
	if err != nil {
		return Record{}, err
	}
	f, err := ReadFile(k.File)
	if err != nil {
		return Record{}, err
	}
	return f.Check(want)
}

func fill(wm report.WorldModel, st Status) report.WorldModel {
	wm.FidelityStatus, wm.FidelityNote = st.State, st.Note
	if st.Subject != nil {
		wm.FidelityOf = st.Subject.Describe()
	}
	if st.State == report.FidelityReady {
		if wm.FidelityOf == nil {
			wm.FidelityOf = map[string]string{}
		}
		wm.Fidelity = map[string]report.Number{}
		for key, v := range st.Record.Numbers() {
			wm.Fidelity[key] = report.Number(v)
		}
		if !st.Record.Computed.IsZero() {
			wm.FidelityOf["computed"] = st.Record.Computed.UTC().Format(time.RFC3339)
		}
	}
	return wm
}

// short abbreviates a hash for logs.
func short(h string) string { return h[:min(12, len(h))] }
