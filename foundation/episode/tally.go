package episode

import (
	"context"
	"fmt"
	"sync"
)

// Tally counts an import's progress across its writer goroutines and keeps
// its first failure, for every importer (zarr here, LeRobot in
// foundation/lerobot): the reader stops at the first failure, episodes
// already read are still written (each atomically), and the error then
// says how many episodes are complete in the store.
type Tally struct {
	mu       sync.Mutex
	total    int
	done     int
	imported int
	skipped  int
	steps    int
	err      error
	failedAt int
	progress func(done, total int)
}

// NewTally counts total episodes, calling progress (may be nil) after each
// one with (done, total), one call at a time with done increasing.
func NewTally(total int, progress func(done, total int)) *Tally {
	return &Tally{total: total, failedAt: -1, progress: progress}
}

// Fail records a failure at the source's episode i; the first one wins.
func (t *Tally) Fail(i int, err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err, t.failedAt = err, i
	}
	t.mu.Unlock()
}

// Failed tells whether a failure was recorded.
func (t *Tally) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err != nil
}

// Step counts one episode done: written now (with its steps) or already
// in the store.
func (t *Tally) Step(imported bool, steps int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done++
	if imported {
		t.imported++
		t.steps += steps
	} else {
		t.skipped++
	}
	if t.progress != nil {
		t.progress(t.done, t.total)
	}
}

// Counts are the episodes written now, those already present and the
// steps written.
func (t *Tally) Counts() (imported, skipped, steps int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.imported, t.skipped, t.steps
}

// Err is nil for a complete import, else the first failure (or ctx's
// error when the caller cancelled) saying how far the import of source got.
func (t *Tally) Err(ctx context.Context, source string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.err
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	at := ""
	if t.failedAt >= 0 {
		at = fmt.Sprintf(" at episode %d", t.failedAt)
	}
	return fmt.Errorf("import of %s stopped%s: %d of %d episodes are complete in the store (%d written now, %d already there), no partial episode was left: %w",
		source, at, t.imported+t.skipped, t.total, t.imported, t.skipped, err)
}
