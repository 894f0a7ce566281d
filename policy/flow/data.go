package flow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
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
	// feat holds each step's observation feature when the front end is
	// fixed (the pose reader), computed once at load; pooled is then nil.
	feat [][]float32
	// single marks a relabelled observation (Labelled): one example whose
	// actions are the chunk to act from it, not an episode's steps.
	single bool
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

// errNoEpisodes: the store holds no episode the model can use.
var errNoEpisodes = errors.New("flow: no usable training episodes")

// dataset is the training episodes with an index over all their steps.
type dataset struct {
	clips []*clip
	cum   []int // cum[i] = steps in clips[:i+1]
	// extra is the number of relabelled examples (the last clips) and
	// share the fraction of each batch drawn from them (0: uniform over
	// all examples).
	extra    int
	share    float64
	manifest Manifest
}

func (d *dataset) steps() int { return d.cum[len(d.cum)-1] }

// samples is the number of training examples the clip holds: one per step,
// or one for a relabelled observation.
func (cl *clip) samples() int {
	if cl.single {
		return 1
	}
	return len(cl.actions)
}

// frames is the number of observations the clip holds.
func (cl *clip) frames() int {
	if cl.feat != nil {
		return len(cl.feat)
	}
	return len(cl.pooled)
}

// sample draws one example's global index.
func (d *dataset) sample(rng *rand.Rand) int {
	if d.share <= 0 || d.extra == 0 || d.extra == d.steps() {
		return rng.IntN(d.steps())
	}
	if rng.Float64() < d.share {
		return d.steps() - d.extra + rng.IntN(d.extra)
	}
	return rng.IntN(d.steps() - d.extra)
}

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
		return nil, fmt.Errorf("%w in %s", errNoEpisodes, store.Root())
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
		total += cl.samples()
		d.cum = append(d.cum, total)
		steps[cl.id] = cl.samples()
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
	if c.pose() {
		od := c.obsDim()
		flat := make([]float32, len(e.Frames)*od)
		for i, f := range e.Frames {
			row := flat[i*od : (i+1)*od : (i+1)*od]
			if err := c.poseObs(row, f, e.Proprio[i]); err != nil {
				return nil, fmt.Errorf("%s step %d: %w", e.ID, i, err)
			}
			cl.feat = append(cl.feat, row)
			s := make([]uint8, c.subgoalDim())
			poolFrame(s, f, c.FrameH, c.FrameW, c.FrameH/c.SubgoalSize)
			cl.small = append(cl.small, s)
		}
		return cl, nil
	}
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

// labelledClip is one relabelled observation as a single-example clip.
func labelledClip(c ModelConfig, l Labelled) (*clip, error) {
	if len(l.Actions) != c.Horizon || len(l.Proprio) != c.ProprioDim {
		return nil, fmt.Errorf("%w: labelled example with %d actions and %d proprio values (want %d and %d)",
			ErrConfig, len(l.Actions), len(l.Proprio), c.Horizon, c.ProprioDim)
	}
	for _, a := range l.Actions {
		if len(a) != c.ActionDim {
			return nil, fmt.Errorf("%w: labelled action of %d values (want %d)", ErrConfig, len(a), c.ActionDim)
		}
	}
	f := make([]float32, c.obsDim())
	c.PoseObs(f, l.Reading, l.Proprio)
	return &clip{source: "relabelled", single: true, feat: [][]float32{f}, proprio: [][]float32{l.Proprio},
		actions: l.Actions, meta: l.Meta, task: l.Task}, nil
}

// relabelled folds the relabelled examples into the manifest as one entry
// (their number, under tag) rather than one id each.
func (d *dataset) relabelled(tag string) {
	steps := map[string]int{}
	ids := d.manifest.TrainIDs[:0]
	n := 0
	for _, cl := range d.clips {
		if cl.single {
			n++
			continue
		}
		steps[cl.id] = cl.samples()
		ids = append(ids, cl.id)
	}
	steps["relabelled:"+tag] = n
	d.extra = n
	sort.Strings(ids)
	d.manifest.TrainIDs = ids
	d.manifest.Counts["relabelled"] = n
	delete(d.manifest.Counts, "episodes_relabelled")
	d.manifest.Counts["episodes"] = len(d.clips) - n
	d.manifest.Hash = checkpoint.DataHash(steps)
}
