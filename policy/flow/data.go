package flow

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
)

// clip is one training episode in memory, frames already pooled.
type clip struct {
	id      string
	source  string
	pooled  [][]uint8 // per step, 3 x inH x inW, channel-major
	small   [][]uint8 // per step, 3 x SubgoalSize^2: the subgoal view
	proprio [][]float32
	actions [][]float32
	meta    policy.Metadata
	task    string
	// poses caches the auxiliary pose labels, read on first use (only the
	// batch goroutine reads them).
	poses []*poseLabel
}

// poseLabel is the block pose read from a frame: normalised x, y, then
// sin and cos of the angle; ok is false when the reader could not read it.
type poseLabel struct {
	v  [auxDim]float32
	ok bool
}

// pose returns the auxiliary label of step i, reading it from the pooled
// frame (the pose reader accepts any size; at 48 px its error is about one
// pixel, plenty for a training signal).
func (cl *clip) pose(c ModelConfig, i int) ([auxDim]float32, bool) {
	if cl.poses == nil {
		cl.poses = make([]*poseLabel, len(cl.pooled))
	}
	if l := cl.poses[i]; l != nil {
		return l.v, l.ok
	}
	h, w := c.inH(), c.inW()
	hwc := make([]uint8, h*w*3)
	src := cl.pooled[i]
	for ch := 0; ch < 3; ch++ {
		for p := 0; p < h*w; p++ {
			hwc[p*3+ch] = src[ch*h*w+p]
		}
	}
	l := &poseLabel{}
	if h == w {
		if block, _, ok, _ := pusht.ReadPoses(hwc, h); ok {
			sin, cos := math.Sincos(block.Angle)
			l.v = [auxDim]float32{c.norm(float32(block.X)), c.norm(float32(block.Y)), float32(sin), float32(cos)}
			l.ok = true
		}
	}
	cl.poses[i] = l
	return l.v, l.ok
}

// Manifest records the data a checkpoint was trained on.
type Manifest struct {
	TrainIDs []string       `json:"train_ids"`
	Counts   map[string]int `json:"counts"`
	// Hash is the SHA-256 of the sorted ids and their step counts.
	Hash string `json:"hash"`
}

// dataset is the training episodes with an index over all their steps.
type dataset struct {
	clips    []*clip
	cum      []int // cum[i] = steps in clips[:i+1]
	manifest Manifest
}

func (d *dataset) steps() int { return d.cum[len(d.cum)-1] }

// at maps a global step index to (clip index, step).
func (d *dataset) at(k int) (int, int) {
	i := sort.SearchInts(d.cum, k+1)
	start := 0
	if i > 0 {
		start = d.cum[i-1]
	}
	return i, k - start
}

// usable reports whether an episode fits the model.
func usable(m episode.Meta, c ModelConfig, sources []string) bool {
	if len(sources) > 0 && !slices.Contains(sources, m.Source) {
		return false
	}
	return m.FrameH == c.FrameH && m.FrameW == c.FrameW && m.Channels == 3 &&
		m.ProprioDim == c.ProprioDim && m.ActionDim == c.ActionDim && m.Steps >= 2
}

// loadDataset reads the usable episodes of store (at most maxPerSource per
// source when positive, in the store's order) and pools their frames.
func loadDataset(ctx context.Context, store *episode.Store, cfg TrainConfig, progress func(done, total int)) (*dataset, error) {
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	c := cfg.Model
	var keep []episode.Meta
	per := map[string]int{}
	for _, m := range metas {
		if !usable(m, c, cfg.Sources) || (cfg.MaxEpisodes > 0 && per[m.Source] >= cfg.MaxEpisodes) {
			continue
		}
		per[m.Source]++
		keep = append(keep, m)
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("flow: no usable training episodes in %s", store.Root())
	}
	clips := make([]*clip, len(keep))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		done     int
		next     = make(chan int)
	)
	for w := 0; w < max(1, cfg.Threads); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				cl, err := loadClip(ctx, store, keep[i].ID, c)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				clips[i] = cl
				done++
				if progress != nil {
					progress(done, len(keep))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range keep {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("flow: load training data: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newDataset(clips), nil
}

// newDataset indexes clips and records them in a manifest.
func newDataset(clips []*clip) *dataset {
	d := &dataset{clips: clips, manifest: Manifest{Counts: map[string]int{}}}
	steps := map[string]int{}
	total := 0
	for _, cl := range clips {
		total += len(cl.actions)
		d.cum = append(d.cum, total)
		steps[cl.id] = len(cl.actions)
		d.manifest.TrainIDs = append(d.manifest.TrainIDs, cl.id)
		d.manifest.Counts["episodes_"+cl.source]++
	}
	d.manifest.Counts["episodes"] = len(clips)
	d.manifest.Counts["steps"] = total
	d.manifest.Hash = checkpoint.DataHash(steps)
	sort.Strings(d.manifest.TrainIDs)
	return d
}

func loadClip(ctx context.Context, store *episode.Store, id string, c ModelConfig) (*clip, error) {
	e, err := store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	cl := &clip{id: e.ID, source: e.Source, proprio: e.Proprio, actions: e.Actions, task: e.Instruction,
		meta: policy.Metadata{Speed: e.Speed, Quality: e.Quality, Mistake: e.Mistake}}
	in := 3 * c.inH() * c.inW()
	buf := make([]uint8, len(e.Frames)*(in+c.subgoalDim()))
	for _, f := range e.Frames {
		p, s := buf[:in:in], buf[in:in+c.subgoalDim():in+c.subgoalDim()]
		buf = buf[in+c.subgoalDim():]
		poolFrame(p, f, c.FrameH, c.FrameW, c.Pool)
		poolFrame(s, f, c.FrameH, c.FrameW, c.FrameH/c.SubgoalSize)
		cl.pooled = append(cl.pooled, p)
		cl.small = append(cl.small, s)
	}
	return cl, nil
}
