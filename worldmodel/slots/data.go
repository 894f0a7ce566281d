package slots

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/split"
)

// shape is what an episode must have for one model: frame size, channels,
// proprioception and action dimensions.
type shape struct{ H, W, C, D, A int }

func shapeOf(m episode.Meta) shape {
	return shape{m.FrameH, m.FrameW, m.Channels, m.ProprioDim, m.ActionDim}
}

// track is one training episode reduced to what the dynamics learn from:
// proprioception, actions and every object's pose read from each frame
// with the fit's RMS residual.
type track struct {
	id      string
	proprio [][]float32
	actions [][]float32
	poses   [][]Pose
	rms     [][]float32
}

// plan is the training episodes of a store and the shape they share.
type plan struct {
	shape    shape
	metas    []episode.Meta
	manifest split.Manifest
	skipped  int // training episodes of another shape
}

// planData picks the training episodes: all but the held-out ones
// (split.IsHeldOut), of the shape most of them share (a store may hold
// several robots; the model is one robot's), at most maxPerSource per
// source when positive.
func planData(ctx context.Context, store *episode.Store, maxPerSource int) (*plan, error) {
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	votes := map[shape]int{}
	for _, m := range metas {
		if m.Steps >= 3 && !split.IsHeldOut(m) {
			votes[shapeOf(m)]++
		}
	}
	p := &plan{manifest: split.Manifest{Counts: map[string]int{}}}
	best := 0
	for s, n := range votes {
		if n > best || (n == best && fmt.Sprint(s) < fmt.Sprint(p.shape)) {
			p.shape, best = s, n
		}
	}
	if best == 0 {
		return nil, fmt.Errorf("%w: no training episode of 3 steps or more in %s", ErrNoData, store.Root())
	}
	perSource := map[string]int{}
	for _, m := range metas {
		switch {
		case m.Steps < 3 || shapeOf(m) != p.shape:
			if !split.IsHeldOut(m) {
				p.skipped++
			}
		case split.IsHeldOut(m):
			p.manifest.HeldOutIDs = append(p.manifest.HeldOutIDs, m.ID)
			p.manifest.Counts["held_out_episodes"]++
		case maxPerSource > 0 && perSource[m.Source] >= maxPerSource:
		default:
			perSource[m.Source]++
			p.metas = append(p.metas, m)
		}
	}
	sort.Strings(p.manifest.HeldOutIDs)
	return p, nil
}

// sceneFrames reads the frames the scene is learned from: the first frame
// of every training episode (at most n) and n frames spread evenly over
// all training frames.
func sceneFrames(ctx context.Context, store *episode.Store, p *plan, n int) (starts, frames [][]uint8, err error) {
	total := 0
	for _, m := range p.metas {
		total += m.Steps
	}
	stride := max(1, total/n)
	seen := 0
	for i, m := range p.metas {
		e, err := store.Get(ctx, m.ID)
		if err != nil {
			return nil, nil, err
		}
		if i*n/len(p.metas) != (i+1)*n/len(p.metas) || len(p.metas) <= n {
			starts = append(starts, e.Frames[0])
		}
		for _, f := range e.Frames {
			if seen%stride == 0 && len(frames) < n {
				frames = append(frames, f)
			}
			seen++
		}
	}
	return starts, frames, nil
}

// trackCache is every training episode's poses read with one scene, saved
// in the training directory: reading them is the slow part of a run.
type trackCache struct {
	Version  int
	Scene    string // the scene's hash
	Episodes map[string]cachedTrack
}

type cachedTrack struct {
	Poses [][]Pose
	RMS   [][]float32
}

const trackCacheVersion = 1

// fitVersion changes when the fitter reads poses differently, so cached
// poses of an older one are read again.
const fitVersion = 3

// TrackCacheFile holds the poses read from the training frames.
const TrackCacheFile = "tracks.gob"

func readTrackCache(path, scene string) *trackCache {
	fresh := &trackCache{Version: trackCacheVersion, Scene: scene, Episodes: map[string]cachedTrack{}}
	f, err := os.Open(path)
	if err != nil {
		return fresh
	}
	defer f.Close()
	var c trackCache
	if gob.NewDecoder(f).Decode(&c) != nil || c.Version != trackCacheVersion || c.Scene != scene || c.Episodes == nil {
		return fresh // stale or damaged: only time is lost
	}
	return &c
}

func (c *trackCache) write(path string) error {
	return writeAtomic(path, func(f *os.File) error { return gob.NewEncoder(f).Encode(c) })
}

// writeAtomic writes path through a temporary file and a rename, so a
// crash never leaves half a file.
func writeAtomic(path string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readTracks reads every training episode's object poses with the scene
// (from the cache in dir when it has them), on threads goroutines,
// reporting progress.
func readTracks(ctx context.Context, store *episode.Store, p *plan, l *learned, dir string, threads int, report func(string)) ([]*track, error) {
	path := filepath.Join(dir, TrackCacheFile)
	cache := readTrackCache(path, fmt.Sprintf("%s/fit%d", l.hash(), fitVersion))
	tracks := make([]*track, len(p.metas))
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		next  = make(chan int)
		errs  []error
		fresh int
		t0    = time.Now()
	)
	for range max(1, threads) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := newFitter(l.scene, l.colours, l.cfg)
			for i := range next {
				e, err := store.Get(ctx, p.metas[i].ID)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				t := &track{id: e.ID, proprio: e.Proprio, actions: e.Actions}
				mu.Lock()
				c, ok := cache.Episodes[e.ID]
				mu.Unlock()
				if ok && len(c.Poses) == len(e.Frames) {
					t.poses, t.rms = c.Poses, c.RMS
				} else {
					t.poses, t.rms = trackEpisode(f, e.Frames)
				}
				mu.Lock()
				tracks[i] = t
				if !ok {
					cache.Episodes[e.ID] = cachedTrack{t.poses, t.rms}
					fresh++
					if fresh%50 == 0 {
						if err := cache.write(path); err != nil {
							errs = append(errs, err)
						}
						el := time.Since(t0)
						report(fmt.Sprintf("read object poses of %d new episodes (%v, %.0f frames/s)", fresh, el.Round(time.Second), float64(countFrames(tracks))/el.Seconds()))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range p.metas {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, fmt.Errorf("slots: read tracks: %w", err)
	}
	if fresh > 0 {
		if err := cache.write(path); err != nil {
			return nil, fmt.Errorf("slots: write track cache: %w", err)
		}
	}
	steps := map[string]int{}
	for i, t := range tracks {
		p.manifest.TrainIDs = append(p.manifest.TrainIDs, t.id)
		p.manifest.Counts["train_episodes"]++
		p.manifest.Counts["train_episodes_"+p.metas[i].Source]++
		p.manifest.Counts["train_steps"] += len(t.poses)
		steps[t.id] = len(t.poses)
	}
	sort.Strings(p.manifest.TrainIDs)
	p.manifest.Hash = checkpoint.DataHash(steps)
	return tracks, nil
}

func countFrames(ts []*track) int {
	n := 0
	for _, t := range ts {
		if t != nil {
			n += len(t.poses)
		}
	}
	return n
}

// trackEpisode reads every frame's poses, each fit starting from the
// previous frame's.
func trackEpisode(f *fitter, frames [][]uint8) ([][]Pose, [][]float32) {
	poses := make([][]Pose, len(frames))
	rms := make([][]float32, len(frames))
	var prev []Pose
	for i, fr := range frames {
		p, r := f.fit(fr, prev)
		poses[i], prev = p, p
		rms[i] = make([]float32, len(r))
		for k, v := range r {
			rms[i][k] = float32(v)
		}
	}
	return poses, rms
}
