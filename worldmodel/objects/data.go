package objects

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"sync"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/split"
)

// track is one training episode reduced to what the dynamics learn from:
// the agent position (proprioception), the action, and the block pose read
// from each frame.
type track struct {
	id      string
	human   bool
	agent   [][2]float32
	actions [][2]float32
	poses   []FramePose
}

// dataset is the training tracks and the manifest of what they are.
type dataset struct {
	tracks   []*track
	manifest split.Manifest
	// unreadable counts frames whose block the reader could not read.
	unreadable, frames int
}

// loadDataset reads the training episodes of store (all but the held-out
// ones, by split.IsHeldOut so fidelity numbers are comparable with the
// pixel model's; at most maxPerSource per source when positive), reading
// block poses from frames, or from the cache in outDir when it has them.
// When only is not nil, the training episodes are those of its ids.
func loadDataset(ctx context.Context, store *episode.Store, outDir string, maxPerSource, threads int, only []string, report func(string)) (*dataset, error) {
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	var keep map[string]bool
	if only != nil {
		keep = make(map[string]bool, len(only))
		for _, id := range only {
			keep[id] = true
		}
	}
	var train []episode.Meta
	man := split.Manifest{Counts: map[string]int{}}
	perSource := map[string]int{}
	for _, m := range metas {
		if m.FrameH != frameSize || m.FrameW != frameSize || m.Channels != 3 || m.ProprioDim != 2 || m.ActionDim != 2 || m.Steps < 2 {
			continue
		}
		if split.IsHeldOut(m) {
			man.HeldOutIDs = append(man.HeldOutIDs, m.ID)
			man.Counts["held_out_episodes"]++
			continue
		}
		if keep != nil && !keep[m.ID] {
			continue
		}
		if maxPerSource > 0 && perSource[m.Source] >= maxPerSource {
			continue
		}
		perSource[m.Source]++
		train = append(train, m)
	}
	if len(train) == 0 {
		return nil, fmt.Errorf("%w: no training episodes in %s", ErrNoData, store.Root())
	}
	cachePath := filepath.Join(outDir, PoseCacheFile)
	cache, err := readPoseCache(cachePath)
	if err != nil {
		return nil, err
	}
	tracks := make([]*track, len(train))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     = make(chan int)
		read     int
	)
	for range max(1, threads) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t, fresh, err := loadTrack(ctx, store, train[i].ID, cache, &mu)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				tracks[i] = t
				if fresh {
					read++
					if read%100 == 0 {
						// Save progress: reading poses is the slow part.
						if err := cache.write(cachePath); err != nil && firstErr == nil {
							firstErr = err
						}
						if report != nil {
							report(fmt.Sprintf("read block poses of %d new episodes", read))
						}
					}
				}
				mu.Unlock()
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
		return nil, fmt.Errorf("objects: load training data: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if read > 0 {
		if err := cache.write(cachePath); err != nil {
			return nil, fmt.Errorf("objects: write pose cache: %w", err)
		}
	}
	ds := &dataset{tracks: tracks}
	steps := map[string]int{}
	for i, t := range tracks {
		man.TrainIDs = append(man.TrainIDs, t.id)
		man.Counts["train_episodes"]++
		man.Counts["train_episodes_"+train[i].Source]++
		man.Counts["train_steps"] += len(t.poses)
		steps[t.id] = len(t.poses)
		for _, p := range t.poses {
			ds.frames++
			if !p.OK() {
				ds.unreadable++
			}
		}
	}
	man.Counts["unreadable_frames"] = ds.unreadable
	man.Hash = checkpoint.DataHash(steps)
	sort.Strings(man.TrainIDs)
	sort.Strings(man.HeldOutIDs)
	ds.manifest = man
	return ds, nil
}

// loadTrack reads one episode and its block poses (from the cache when it
// has them; fresh reports a new reading). Ground truth is never touched.
func loadTrack(ctx context.Context, store *episode.Store, id string, cache *poseCache, mu *sync.Mutex) (*track, bool, error) {
	e, err := store.Get(ctx, id)
	if err != nil {
		return nil, false, err
	}
	t := trackOf(e)
	mu.Lock()
	poses, ok := cache.Episodes[id]
	mu.Unlock()
	if ok && len(poses) == len(e.Frames) {
		t.poses = poses
		return t, false, nil
	}
	if t.poses, err = ReadFramePoses(ctx, e, 1); err != nil {
		return nil, false, err
	}
	mu.Lock()
	cache.Episodes[id] = t.poses
	mu.Unlock()
	return t, true, nil
}

// trackOf keeps an episode's proprioception and actions (poses unset).
func trackOf(e *episode.Episode) *track {
	t := &track{id: e.ID, human: e.Source == split.HumanSource}
	for i := range e.Frames {
		t.agent = append(t.agent, [2]float32{e.Proprio[i][0], e.Proprio[i][1]})
		t.actions = append(t.actions, [2]float32{e.Actions[i][0], e.Actions[i][1]})
	}
	return t
}
