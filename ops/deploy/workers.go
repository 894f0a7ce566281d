package deploy

import (
	"context"
	"fmt"
	"sync"

	"dreamrank/ops/queue"
	"dreamrank/ops/worker"
)

// Workers are task workers in this process, each running imagined
// rollouts one task at a time.
type Workers struct {
	// N workers run.
	N int
	// MaxAttempts is how often a task is tried before it is recorded as
	// failed.
	MaxAttempts int
}

// Run runs the workers, named name-0, name-1, ..., on res until ctx ends;
// wait on the group for them to finish.
func (w Workers) Run(ctx context.Context, res *queue.Resources, name string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for i := range w.N {
		r := worker.NewImagined()
		wk := worker.New(res, r, worker.Config{Name: fmt.Sprintf("%s-%d", name, i), MaxAttempts: w.MaxAttempts})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			_ = wk.Run(ctx)
		}()
	}
	return &wg
}
