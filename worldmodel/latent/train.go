package latent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"time"

	"dreamrank/foundation/episode"
)

// TrainProgress is reported after every optimizer step.
type TrainProgress struct {
	Step, Steps int
	// Loss is an exponential moving average of the training loss (weighted
	// L1 per pixel channel, 0..1 scale); LastLoss is this step's.
	Loss, LastLoss float64
	LR             float64
	Unroll         int
	// ExamplesPerSec counts unrolled examples (each Unroll predicted steps)
	// over this run (not counting a resumed run's earlier part).
	ExamplesPerSec float64
	Elapsed, ETA   time.Duration
	// Checkpoint is set on the steps that wrote one.
	Checkpoint string
	// Message is set for one-off events (data loaded, resumed, ...).
	Message string
}

// Train trains a model on the episodes of store (all but the held-out ones,
// see split.IsHeldOut) and writes checkpoints to cfg.OutDir, returning the path of
// the final one. If cfg.OutDir already holds a checkpoint (its latest
// pointer), training resumes from it: weights, optimizer state and step; the
// data order is a function of (seed, step), so a resumed run continues as
// the uninterrupted one would have. progress may be nil.
func Train(ctx context.Context, store *episode.Store, cfg TrainConfig, progress func(TrainProgress)) (string, error) {
	if err := cfg.validate(); err != nil {
		return "", err
	}
	report := func(p TrainProgress) {
		if progress != nil {
			progress(p)
		}
	}
	t0 := time.Now()
	ds, err := loadDataset(ctx, store, cfg.Model, cfg.MaxEpisodes, cfg.Threads)
	if err != nil {
		return "", err
	}
	report(TrainProgress{Steps: cfg.totalSteps(), Message: fmt.Sprintf("loaded %d human and %d other training episodes (%d steps; %d held out) in %v",
		len(ds.human), len(ds.sim), ds.manifest.Counts["train_steps"], len(ds.manifest.HeldOutIDs), time.Since(t0).Round(time.Second))})
	return trainOn(ctx, ds, cfg, report)
}

// trainer holds a training run's state.
type trainer struct {
	cfg    TrainConfig
	ds     *dataset
	n      *net
	head   proprioHead
	opt    optState
	step   int
	wall   float64
	graphs map[int]*trainGraph
}

func trainOn(ctx context.Context, ds *dataset, cfg TrainConfig, report func(TrainProgress)) (string, error) {
	tr := &trainer{cfg: cfg, ds: ds, graphs: map[int]*trainGraph{}}
	defer func() {
		for _, g := range tr.graphs {
			g.close()
		}
	}()
	all := append(append([]*clip{}, ds.human...), ds.sim...)
	head, rms, err := fitProprioHead(all, cfg.Model.Table)
	if err != nil {
		return "", err
	}
	tr.head = head
	total := cfg.totalSteps()
	report(TrainProgress{Steps: total, Message: fmt.Sprintf("proprio head %.4f, one-step RMS error %.3f table units", head[:], rms)})

	// Resume or start.
	meta, n, opt, err := readCheckpoint(cfg.OutDir, true)
	switch {
	case err == nil:
		arch := meta.Model
		arch.Snap = cfg.Model.Snap // an inference setting, not architecture
		if !reflect.DeepEqual(arch, cfg.Model) {
			return "", fmt.Errorf("latent: %s holds a checkpoint of another architecture (%+v, want %+v); use a new output directory", cfg.OutDir, meta.Model, cfg.Model)
		}
		tr.n, tr.step, tr.wall = n, meta.Step, meta.WallSeconds
		if opt != nil {
			tr.opt = *opt
		}
		report(TrainProgress{Step: tr.step, Steps: total, Message: fmt.Sprintf("resumed from %s at step %d", cfg.OutDir, tr.step)})
	case errors.Is(err, ErrNoCheckpoint):
		tr.n = newNet(cfg.Model, cfg.Seed)
	default:
		return "", fmt.Errorf("latent: resume from %s: %w", cfg.OutDir, err)
	}
	if tr.opt.m == nil {
		for _, p := range tr.n.params {
			k := len(p.t.Data().([]float32))
			tr.opt.m = append(tr.opt.m, make([]float32, k))
			tr.opt.v = append(tr.opt.v, make([]float32, k))
		}
	}
	if tr.step >= total {
		return ResolveCheckpoint(cfg.OutDir)
	}

	// Batches are made in a goroutine while the graph runs.
	type job struct {
		b   *batchData
		err error
	}
	jobs := make(chan job, 2)
	prepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(jobs)
		for s := tr.step; s < total; s++ {
			b := tr.makeBatch(s)
			select {
			case jobs <- job{b: b}:
			case <-prepCtx.Done():
				return
			}
		}
	}()

	start, startStep := time.Now(), tr.step
	ema := math.NaN()
	examples := 0
	var last string
	for tr.step < total {
		if err := ctx.Err(); err != nil {
			return last, err
		}
		j, ok := <-jobs
		if !ok {
			return last, ctx.Err()
		}
		b := j.b
		tg, err := tr.graph(b.unroll)
		if err != nil {
			return last, err
		}
		b.load(tg)
		loss, err := tg.run()
		if err != nil {
			return last, fmt.Errorf("latent: training step %d: %w", tr.step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return last, fmt.Errorf("latent: training diverged at step %d (loss %v)", tr.step, loss)
		}
		grads, err := tg.grads()
		if err != nil {
			return last, err
		}
		lr := tr.lr(tr.step)
		tr.adam(grads, lr)
		tr.step++
		examples += cfg.Batch
		if math.IsNaN(ema) {
			ema = loss
		} else {
			ema = 0.98*ema + 0.02*loss
		}
		el := time.Since(start)
		p := TrainProgress{Step: tr.step, Steps: total, Loss: ema, LastLoss: loss, LR: lr, Unroll: b.unroll,
			ExamplesPerSec: float64(examples) / el.Seconds(), Elapsed: el}
		if done := tr.step - startStep; done > 0 {
			p.ETA = time.Duration(float64(el) / float64(done) * float64(total-tr.step))
		}
		if tr.step%cfg.CheckpointEvery == 0 || tr.step == cfg.Steps || tr.step == total {
			path, err := tr.save(ema, tr.wall+el.Seconds())
			if err != nil {
				return last, fmt.Errorf("latent: checkpoint: %w", err)
			}
			last, p.Checkpoint = path, path
		}
		report(p)
	}
	return last, nil
}

func (tr *trainer) save(loss, wall float64) (string, error) {
	meta := CheckpointMeta{Step: tr.step, Created: time.Now().UTC(), Model: tr.cfg.Model, Train: tr.cfg,
		ProprioHead: tr.head[:], DataHash: tr.ds.manifest.Hash, Loss: loss, WallSeconds: wall}
	path, err := saveCheckpoint(tr.cfg.OutDir, meta, tr.n, &tr.opt, &tr.ds.manifest)
	if err != nil {
		return "", err
	}
	pruneCheckpoints(tr.cfg.OutDir, tr.cfg.KeepCheckpoints)
	return path, nil
}

func (tr *trainer) graph(unroll int) (*trainGraph, error) {
	if g, ok := tr.graphs[unroll]; ok {
		return g, nil
	}
	h, w := tr.cfg.Model.FrameH, tr.cfg.Model.FrameW
	if tr.cfg.Crop > 0 {
		h, w = tr.cfg.Crop, tr.cfg.Crop
	}
	g, err := newTrainGraph(tr.n, tr.cfg.Batch, unroll, h, w)
	if err != nil {
		return nil, err
	}
	tr.graphs[unroll] = g
	return g, nil
}

// unrollAt is the curriculum: UnrollStart growing linearly to Unroll over
// the first half of training.
func (tr *trainer) unrollAt(step int) int {
	c := tr.cfg.at(step)
	half := max(1, c.Steps/2)
	if step >= half {
		return c.Unroll
	}
	return c.UnrollStart + (c.Unroll-c.UnrollStart)*step/half
}

// lr is a linear warm-up over 100 steps (a tenth of short runs), then a
// cosine decay to LR*LRFinal.
func (tr *trainer) lr(step int) float64 {
	c := tr.cfg.at(step)
	f := 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(c.Steps)))
	lr := c.LR * (c.LRFinal + (1-c.LRFinal)*f)
	if warm := min(100, c.Steps/10); step < warm {
		lr *= float64(step+1) / float64(warm)
	}
	return lr
}

// adam updates the weights in place.
func (tr *trainer) adam(grads [][]float32, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	t := float64(tr.step + 1)
	c1 := 1 - math.Pow(b1, t)
	c2 := 1 - math.Pow(b2, t)
	step := float32(lr / c1)
	for i, p := range tr.n.params {
		w := p.t.Data().([]float32)
		m, v, g := tr.opt.m[i], tr.opt.v[i], grads[i]
		for j := range w {
			gj := g[j]
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			w[j] -= step * m[j] / (float32(math.Sqrt(float64(v[j])/c2)) + eps)
		}
		// gorgonia accumulates into the gradient values: zero them.
		clear(g)
	}
}

// batchData is one prepared batch, laid out like the graph's inputs.
type batchData struct {
	unroll                 int
	first                  []float32
	planes, target, weight [][]float32
	gate                   [][]float32
}

func (b *batchData) load(tg *trainGraph) {
	copy(tg.firstT.Data().([]float32), b.first)
	for k := 0; k < b.unroll; k++ {
		copy(tg.planesT[k].Data().([]float32), b.planes[k])
		copy(tg.targetT[k].Data().([]float32), b.target[k])
		copy(tg.weightT[k].Data().([]float32), b.weight[k])
		copy(tg.gateT[k].Data().([]float32), b.gate[k])
	}
}

// makeBatch samples the examples of optimizer step s; it depends only on
// (seed, s), so resumed runs see the same data.
func (tr *trainer) makeBatch(s int) *batchData {
	c := tr.cfg.at(s)
	mc := c.Model
	rng := rand.New(rand.NewPCG(c.Seed, uint64(s)+1))
	K := tr.unrollAt(s)
	H, W := mc.FrameH, mc.FrameW
	h, w := H, W
	if c.Crop > 0 {
		h, w = c.Crop, c.Crop
	}
	n := h * w
	b := &batchData{unroll: K, first: make([]float32, c.Batch*3*n)}
	for k := 0; k < K; k++ {
		b.planes = append(b.planes, make([]float32, c.Batch*numPlanes*n))
		b.target = append(b.target, make([]float32, c.Batch*3*n))
		b.weight = append(b.weight, make([]float32, c.Batch*3*n))
		b.gate = append(b.gate, make([]float32, c.Batch*3*n))
	}
	mask := make([]uint8, H*W)
	bmask := make([]uint8, H*W)
	for i := 0; i < c.Batch; i++ {
		set := tr.ds.sim
		if len(set) == 0 || (len(tr.ds.human) > 0 && rng.Float64() < c.HumanFraction) {
			set = tr.ds.human
		}
		var cl *clip
		for tries := 0; tries < 100; tries++ {
			cl = set[rng.IntN(len(set))]
			if len(cl.frames) > K {
				break
			}
		}
		K2 := min(K, len(cl.frames)-1) // only for pathological tiny data
		t := rng.IntN(len(cl.frames) - K2)
		// Crop window around the agent's mean position over the unroll,
		// aligned to 4 pixels (the network's stride).
		ox, oy := 0, 0
		if c.Crop > 0 {
			var mx, my float64
			for k := 0; k <= K2; k++ {
				mx += float64(cl.proprio[t+k][0])
				my += float64(cl.proprio[t+k][1])
			}
			mx = mx / float64(K2+1) * float64(W) / mc.Table
			my = my / float64(K2+1) * float64(H) / mc.Table
			// Jitter so the agent is not always at the centre.
			mx += float64(rng.IntN(17) - 8)
			my += float64(rng.IntN(17) - 8)
			ox = clampInt(int(math.Round((mx-float64(w)/2)/4))*4, 0, W-w)
			oy = clampInt(int(math.Round((my-float64(h)/2)/4))*4, 0, H-h)
		}
		toCHW(b.first[i*3*n:(i+1)*3*n], cl.frames[t], W, ox, oy, h, w)
		for k := 0; k < K; k++ {
			tk := t + min(k, K2-1)
			before, after := vec2(cl.proprio[tk]), vec2(cl.proprio[tk+1])
			fillPlanes(b.planes[k][i*numPlanes*n:(i+1)*numPlanes*n], h, w, ox, oy, before, after, cl.actions[tk], mc)
			fillGate(b.gate[k][i*3*n:(i+1)*3*n], h, w, ox, oy, before, after, mc)
			tgt := b.target[k][i*3*n : (i+1)*3*n]
			toCHW(tgt, cl.frames[tk+1], W, ox, oy, h, w)
			// Pixels that change (dilated by one) weigh 1+ChangeWeight.
			f0, f1 := cl.frames[tk], cl.frames[tk+1]
			clear(mask)
			for p := 0; p < H*W; p++ {
				d := absDiff(f0[3*p], f1[3*p]) + absDiff(f0[3*p+1], f1[3*p+1]) + absDiff(f0[3*p+2], f1[3*p+2])
				if d > 24 {
					y, x := p/W, p%W
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							if yy, xx := y+dy, x+dx; yy >= 0 && yy < H && xx >= 0 && xx < W {
								mask[yy*W+xx] = 1
							}
						}
					}
				}
			}
			if c.BlockWeight > 0 {
				markBlock(bmask, f0, f1, H, W)
			}
			wt := b.weight[k][i*3*n : (i+1)*3*n]
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					v := float32(1)
					if mask[(oy+y)*W+ox+x] != 0 {
						v += float32(c.ChangeWeight)
					}
					if c.BlockWeight > 0 && bmask[(oy+y)*W+ox+x] != 0 {
						v += float32(c.BlockWeight)
					}
					j := y*w + x
					wt[j], wt[n+j], wt[2*n+j] = v, v, v
				}
			}
		}
	}
	return b
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// Palette of the PushT renderer: the block's share of a pixel is found by
// unmixing its colour into white table, light-green goal and block fill.
var blockUnmix = func() [3]float64 {
	a := [3][3]float64{{255, 144, 143}, {255, 238, 163}, {255, 144, 184}} // columns white, goal, fill
	det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	// Row 2 of the inverse: cofactors of column 2.
	return [3]float64{
		(a[1][0]*a[2][1] - a[1][1]*a[2][0]) / det,
		-(a[0][0]*a[2][1] - a[0][1]*a[2][0]) / det,
		(a[0][0]*a[1][1] - a[0][1]*a[1][0]) / det,
	}
}()

// blockShare is the block's share (about 0..1) of an RGB pixel.
func blockShare(r, g, b uint8) float64 {
	u := blockUnmix
	return u[0]*float64(r) + u[1]*float64(g) + u[2]*float64(b)
}

// markBlock sets mask (H*W) to 1 on pixels where frame f0 or f1 shows the
// block (share at least 0.5; the pusher's blue is left out), dilated by one.
func markBlock(mask []uint8, f0, f1 []uint8, H, W int) {
	clear(mask)
	for p := 0; p < H*W; p++ {
		on := false
		for _, f := range [2][]uint8{f0, f1} {
			r, g, b := f[3*p], f[3*p+1], f[3*p+2]
			if int(b)-int(r) > 80 { // pusher
				continue
			}
			if blockShare(r, g, b) >= 0.5 {
				on = true
			}
		}
		if !on {
			continue
		}
		y, x := p/W, p%W
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				if yy, xx := y+dy, x+dx; yy >= 0 && yy < H && xx >= 0 && xx < W {
					mask[yy*W+xx] = 1
				}
			}
		}
	}
}
