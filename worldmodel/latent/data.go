package latent

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"sync"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
)

// HumanSource is the source of the imported human demonstrations.
const HumanSource = "pusht_cchi_v7_replay"

// IsHeldOut reports whether an episode is held out of training, for
// evaluation. The rule is fixed so that every evaluator uses the same split:
//
//   - human demonstrations (source pusht_cchi_v7_replay) whose
//     extra.episode_index is a multiple of 10 (21 of 206);
//   - simulated episodes (source sim) whose seed is a multiple of 50;
//   - any other episode whose id hashes (FNV-1a 32) to 0 modulo 10.
func IsHeldOut(m episode.Meta) bool {
	switch m.Source {
	case HumanSource:
		i, err := strconv.Atoi(m.Extra["episode_index"])
		if err == nil {
			return i%10 == 0
		}
	case "sim":
		if m.Seed != nil {
			return *m.Seed%50 == 0
		}
	}
	h := fnv.New32a()
	h.Write([]byte(m.ID))
	return h.Sum32()%10 == 0
}

// HeldOut returns the held-out episodes among metas, in their order.
func HeldOut(metas []episode.Meta) []episode.Meta {
	var out []episode.Meta
	for _, m := range metas {
		if IsHeldOut(m) {
			out = append(out, m)
		}
	}
	return out
}

// SelectHeldOut is the evaluation split of metas: the held-out human
// demonstrations, plus the held-out simulated episodes when withSim, at
// most limit of them (0: all), in HeldOut's order.
func SelectHeldOut(metas []episode.Meta, withSim bool, limit int) []episode.Meta {
	var out []episode.Meta
	for _, m := range HeldOut(metas) {
		if m.Source != HumanSource && !withSim {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, m)
	}
	return out
}

// LoadHeldOut loads the evaluation split from the episode store in data:
// the held-out human demonstrations, plus the held-out simulated episodes
// when withSim, at most limit of them (0: all).
func LoadHeldOut(ctx context.Context, data string, withSim bool, limit int) ([]*episode.Episode, error) {
	store, err := episode.Open(data)
	if err != nil {
		return nil, err
	}
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	var eps []*episode.Episode
	for _, m := range SelectHeldOut(metas, withSim, limit) {
		e, err := store.Get(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("no held-out episodes in %s: import the human demonstrations first (dreamrank dataset import --data %s)", data, data)
	}
	return eps, nil
}

// Manifest records which data a checkpoint was trained on.
type Manifest struct {
	TrainIDs   []string       `json:"train_ids"`
	HeldOutIDs []string       `json:"held_out_ids"`
	Counts     map[string]int `json:"counts"` // episodes and steps per source, "train_steps", ...
	// Hash is the SHA-256 of the sorted training ids and their step counts.
	Hash string `json:"hash"`
}

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
	manifest   Manifest
}

// loadDataset reads the training episodes of store (all but the held-out
// ones; at most maxPerSource per source when positive) that fit the model.
func loadDataset(ctx context.Context, store *episode.Store, cfg ModelConfig, maxPerSource, threads int) (*dataset, error) {
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	var train []episode.Meta
	man := Manifest{Counts: map[string]int{}}
	perSource := map[string]int{}
	for _, m := range metas {
		if m.FrameH != cfg.FrameH || m.FrameW != cfg.FrameW || m.Channels != 3 || m.ProprioDim != 2 || m.ActionDim != 2 || m.Steps < 2 {
			continue
		}
		if IsHeldOut(m) {
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
				clips[i] = &clip{id: e.ID, human: e.Source == HumanSource, frames: e.Frames, proprio: e.Proprio, actions: e.Actions}
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
