package latent

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/split"
)

// clip is one training episode in memory.
type clip struct {
	id      string
	human   bool
	frames  [][]uint8
	proprio [][]float32
	actions [][]float32
}

// dataset is the training episodes in memory, split by kind.
type dataset struct {
	human, sim []*clip
	manifest   split.Manifest
}

// loadDataset reads the training episodes of store (all but the held-out
// ones; at most maxPerSource per source when positive) that fit the model.
func loadDataset(ctx context.Context, store *episode.Store, cfg ModelConfig, maxPerSource, threads int) (*dataset, error) {
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	var train []episode.Meta
	man := split.Manifest{Counts: map[string]int{}}
	perSource := map[string]int{}
	for _, m := range metas {
		if m.FrameH != cfg.FrameH || m.FrameW != cfg.FrameW || m.Channels != 3 || m.ProprioDim != 2 || m.ActionDim != 2 || m.Steps < 2 {
			continue
		}
		if split.IsHeldOut(m) {
			man.HeldOutIDs = append(man.HeldOutIDs, m.ID)
			man.Counts["held_out_episodes"]++
			continue
		}
		if maxPerSource > 0 && perSource[m.Source] >= maxPerSource {
			continue
		}
		perSource[m.Source]++
		train = append(train, m)
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("latent: no training episodes in %s", store.Root())
	}
	clips := make([]*clip, len(train))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
	)
	for w := 0; w < max(1, threads); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				e, err := store.Get(ctx, train[i].ID)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				clips[i] = &clip{id: e.ID, human: e.Source == split.HumanSource, frames: e.Frames, proprio: e.Proprio, actions: e.Actions}
			}
		}()
	}
	for i := range train {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("latent: load training data: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := &dataset{}
	steps := map[string]int{}
	for _, c := range clips {
		if c.human {
			ds.human = append(ds.human, c)
		} else {
			ds.sim = append(ds.sim, c)
		}
		man.TrainIDs = append(man.TrainIDs, c.id)
		man.Counts["train_episodes"]++
		man.Counts["train_steps"] += len(c.frames)
		steps[c.id] = len(c.frames)
	}
	for _, m := range train {
		man.Counts["train_episodes_"+m.Source]++
	}
	man.Hash = checkpoint.DataHash(steps)
	sort.Strings(man.TrainIDs)
	sort.Strings(man.HeldOutIDs)
	ds.manifest = man
	return ds, nil
}
