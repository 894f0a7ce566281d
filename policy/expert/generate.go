package expert

import (
	"context"
	"fmt"

	"dreamrank/foundation/episode"
)

// GenerateReport says what Generate wrote.
type GenerateReport struct {
	IDs       []string `json:"ids"`
	Episodes  int      `json:"episodes"`
	Successes int      `json:"successes"`
	Steps     int      `json:"steps"`
}

// Generate plays one expert episode per seed and writes each to the store as
// soon as it finishes, so an interrupted run keeps what it completed.
func Generate(ctx context.Context, store *episode.Store, seeds []int64, opts Options, workers int, put episode.PutOptions, progress func(done, total int)) (GenerateReport, error) {
	var rep GenerateReport
	err := RunSeeds(ctx, seeds, opts, workers, func(_ int, r Result) error {
		ep, err := r.Episode(opts)
		if err != nil {
			return err
		}
		if err := store.Put(ctx, ep, put); err != nil {
			return fmt.Errorf("store seed %d: %w", r.Seed, err)
		}
		rep.IDs = append(rep.IDs, ep.ID)
		rep.Episodes++
		rep.Steps += r.Steps()
		if r.Success {
			rep.Successes++
		}
		return nil
	}, progress)
	return rep, err
}
