package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
)

// Checkpoint format of this package (checkpoint.json's format and version).
const (
	CheckpointFormat  = "dreamrank-flow-policy"
	CheckpointVersion = 1
	checkpointPrefix  = "policy"
)

// savedConfig is checkpoint.json's config.
type savedConfig struct {
	Model ModelConfig `json:"model"`
	Train TrainConfig `json:"train"`
}

// Progress is reported after every training step (and while loading).
type Progress struct {
	Step, Steps    int
	Stage          string  // "end-to-end" or "head"
	Loss, LastLoss float64 // Loss is a moving average
	LR             float64
	ExamplesPerSec float64
	Elapsed, ETA   time.Duration
	// Checkpoint is set when this step wrote one.
	Checkpoint string
	// Message is a one-off note (data loaded, resumed, ...).
	Message string
}

// trainer is one training run.
type trainer struct {
	cfg      TrainConfig
	d        *dataset
	ps       *nn.Params
	opt      *nn.Adam
	step     int
	wall     float64
	manifest []byte
	report   func(Progress)
	last     string
}

// Train trains a policy on the episodes in store, resuming from the latest
// checkpoint in cfg.OutDir when there is one: cfg.Steps end to end, then
// cfg.HeadSteps of the head alone. It returns the last checkpoint written.
func Train(ctx context.Context, store *episode.Store, cfg TrainConfig, report func(Progress)) (string, error) {
	return TrainWith(ctx, store, cfg, TrainOptions{}, report)
}

// Labelled is one training example given directly rather than read from an
// episode: an observation seen through the pose reader, the chunk to act
// from it (Horizon actions, e.g. an expert's relabelling of a state a
// learner visited) and the steering it was labelled for.
type Labelled struct {
	Reading pusht.Reading   `json:"reading"`
	Proprio []float32       `json:"proprio"`
	Actions [][]float32     `json:"actions"`
	Meta    policy.Metadata `json:"meta"`
	Task    string          `json:"task,omitempty"`
}

// TrainOptions are Train's inputs beyond its configuration.
type TrainOptions struct {
	// Extra examples train alongside the store's episodes (the pose
	// encoder only); their number and Tag enter the data hash.
	Extra []Labelled
	Tag   string
	// ExtraShare is the fraction of each batch drawn from Extra (0:
	// uniform over all examples).
	ExtraShare float64
	// Episodes, when set, are the store's episodes already loaded by
	// LoadEpisodes (store is then not read).
	Episodes *Episodes
	// Init, when set and cfg.OutDir holds no checkpoint yet, is a checkpoint
	// of the same architecture whose weights training starts from (not its
	// optimizer state or step).
	Init string
}

// TrainWith is Train with extra examples and initial weights; store may be
// nil when there are extra examples.
func TrainWith(ctx context.Context, store *episode.Store, cfg TrainConfig, opts TrainOptions, report func(Progress)) (string, error) {
	if err := cfg.validate(); err != nil {
		return "", err
	}
	if len(opts.Extra) > 0 && !cfg.Model.pose() {
		return "", fmt.Errorf("%w: extra examples need the pose encoder", ErrConfig)
	}
	if report == nil {
		report = func(Progress) {}
	}
	total := cfg.Steps + cfg.HeadSteps
	var clips []*clip
	if opts.Episodes != nil {
		clips = append(clips, opts.Episodes.clips...)
	} else if store != nil {
		report(Progress{Steps: total, Message: "loading episodes from " + store.Root()})
		d, err := loadDataset(ctx, store, cfg, nil)
		if err != nil && !(errors.Is(err, errNoEpisodes) && len(opts.Extra) > 0) {
			return "", err
		}
		if d != nil {
			clips = d.clips
		}
	}
	for _, l := range opts.Extra {
		cl, err := labelledClip(cfg.Model, l)
		if err != nil {
			return "", err
		}
		clips = append(clips, cl)
	}
	if len(clips) == 0 {
		return "", fmt.Errorf("flow: no training examples")
	}
	d := newDataset(clips)
	if len(opts.Extra) > 0 {
		d.relabelled(opts.Tag)
		d.share = opts.ExtraShare
	}
	report(Progress{Steps: total, Message: fmt.Sprintf("%d clips, %d examples (%v)", len(d.clips), d.steps(), d.manifest.Counts)})
	tr := &trainer{cfg: cfg, d: d, ps: newParams(cfg.Model, cfg.Seed), report: report}
	tr.opt = nn.NewAdam(tr.ps)
	var err error
	if tr.manifest, err = json.MarshalIndent(d.manifest, "", " "); err != nil {
		return "", err
	}
	if err := tr.resume(); err != nil {
		return "", err
	}
	if tr.step == 0 && opts.Init != "" {
		if err := tr.init(opts.Init); err != nil {
			return "", err
		}
	}
	if tr.step >= total {
		return checkpoint.Resolve(cfg.OutDir)
	}
	if tr.step < cfg.Steps {
		if err := tr.stage(ctx, cfg.Steps, cfg.Batch, nil, "end-to-end"); err != nil {
			return tr.last, err
		}
	}
	if tr.step < total {
		report(Progress{Step: tr.step, Steps: total, Message: "computing the frozen encoder's features"})
		feats, err := features(ctx, tr.ps, cfg.Model, d, func(done, frames int) {
			report(Progress{Step: tr.step, Steps: total, Message: fmt.Sprintf("features of %d/%d frames", done, frames)})
		})
		if err != nil {
			return tr.last, err
		}
		if err := tr.stage(ctx, total, cfg.HeadBatch, feats, "head"); err != nil {
			return tr.last, err
		}
	}
	return tr.last, nil
}

// init loads the weights of checkpoint path, of the same architecture.
func (tr *trainer) init(path string) error {
	c, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		return fmt.Errorf("flow: initial weights: %w", err)
	}
	var sc savedConfig
	if err := json.Unmarshal(c.Config, &sc); err != nil {
		return fmt.Errorf("flow: initial weights: %w", err)
	}
	if !sc.Model.sameArch(tr.cfg.Model) {
		return fmt.Errorf("%w: initial weights %s are of another architecture", ErrConfig, c.Dir)
	}
	if err := tr.ps.Load(c); err != nil {
		return err
	}
	tr.report(Progress{Steps: tr.cfg.Steps + tr.cfg.HeadSteps, Message: "initial weights from " + c.Dir})
	return nil
}

func (tr *trainer) resume() error {
	c, err := checkpoint.Read(tr.cfg.OutDir, CheckpointFormat, CheckpointVersion, true)
	if errors.Is(err, checkpoint.ErrNone) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("flow: resume from %s: %w", tr.cfg.OutDir, err)
	}
	var sc savedConfig
	if err := json.Unmarshal(c.Config, &sc); err != nil {
		return fmt.Errorf("flow: resume: %w", err)
	}
	if !sc.Model.sameArch(tr.cfg.Model) {
		return fmt.Errorf("flow: %s holds a checkpoint of another architecture (%+v, want %+v); use a new output directory", tr.cfg.OutDir, sc.Model, tr.cfg.Model)
	}
	if err := tr.ps.Load(c); err != nil {
		return err
	}
	if c.Optimizer != nil && !tr.opt.Restore(c.Optimizer, c.Step) {
		return fmt.Errorf("%w: %s: optimizer state of the wrong size", checkpoint.ErrCorrupt, c.Dir)
	}
	tr.step, tr.wall = c.Step, c.WallSeconds
	tr.report(Progress{Step: tr.step, Steps: tr.cfg.Steps + tr.cfg.HeadSteps, Message: fmt.Sprintf("resumed from %s at step %d", c.Dir, tr.step)})
	return nil
}

// stage trains until step end with batches of size; feats non-nil trains
// the head alone on those features.
func (tr *trainer) stage(ctx context.Context, end, size int, feats [][][]float32, name string) error {
	cfg := tr.cfg
	tg, err := newTrainGraph(tr.ps, cfg.Model, size, feats != nil, cfg.AuxWeight)
	if err != nil {
		return err
	}
	defer tg.close()
	batches := make(chan *batch, 2)
	prepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		for s := tr.step; s < end; s++ {
			select {
			case batches <- makeBatch(tr.d, cfg, s, size, feats):
			case <-prepCtx.Done():
				return
			}
		}
	}()
	total := cfg.Steps + cfg.HeadSteps
	start, startStep := time.Now(), tr.step
	ema := math.NaN()
	for tr.step < end {
		b, ok := <-batches
		if !ok || ctx.Err() != nil {
			return ctx.Err()
		}
		b.load(tg)
		loss, grads, err := tg.prog.Run()
		if err != nil {
			return fmt.Errorf("flow: training step %d: %w", tr.step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("flow: training diverged at step %d (loss %v)", tr.step, loss)
		}
		lr := cfg.lr(tr.step)
		tr.opt.Update(tr.ps, grads, lr, cfg.WeightDecay)
		tr.step++
		if math.IsNaN(ema) {
			ema = loss
		} else {
			ema = 0.98*ema + 0.02*loss
		}
		el := time.Since(start)
		p := Progress{Step: tr.step, Steps: total, Stage: name, Loss: ema, LastLoss: loss, LR: lr, Elapsed: el,
			ExamplesPerSec: float64((tr.step-startStep)*size) / el.Seconds()}
		p.ETA = time.Duration(float64(el) / float64(tr.step-startStep) * float64(end-tr.step))
		if tr.step%cfg.CheckpointEvery == 0 || tr.step == end {
			if p.Checkpoint, err = tr.save(ema, tr.wall+el.Seconds()); err != nil {
				return err
			}
		}
		tr.report(p)
	}
	tr.wall += time.Since(start).Seconds()
	return nil
}

func (tr *trainer) save(loss, wall float64) (string, error) {
	conf, err := json.Marshal(savedConfig{Model: tr.cfg.Model, Train: tr.cfg})
	if err != nil {
		return "", err
	}
	c := &checkpoint.Checkpoint{Meta: checkpoint.Meta{Format: CheckpointFormat, Version: CheckpointVersion,
		Step: tr.step, Created: time.Now().UTC(), Config: conf, DataHash: tr.d.manifest.Hash, Loss: loss,
		WallSeconds: wall}, Weights: tr.ps.Tensors(), Optimizer: tr.opt.Flat(), Manifest: tr.manifest}
	path, err := checkpoint.Save(tr.cfg.OutDir, checkpointPrefix, c)
	if err != nil {
		return "", fmt.Errorf("flow: checkpoint: %w", err)
	}
	checkpoint.Prune(tr.cfg.OutDir, checkpointPrefix, tr.cfg.Keep)
	tr.last = path
	return path, nil
}

// lr is, within each stage, a linear warm-up (100 steps, or a tenth of
// short stages), then a cosine decay to the stage's LR times LRFinal.
func (c TrainConfig) lr(step int) float64 {
	base, from, n := c.LR, 0, c.Steps
	if step >= c.Steps {
		base, from, n = c.HeadLR, c.Steps, c.HeadSteps
	}
	s := step - from
	f := 0.5 * (1 + math.Cos(math.Pi*float64(s)/float64(n)))
	lr := base * (c.LRFinal + (1-c.LRFinal)*f)
	if warm := min(100, n/10); s < warm {
		lr *= float64(s+1) / float64(warm)
	}
	return lr
}

// features runs the encoder over every frame of d, clips spread over the
// cores (one OpenBLAS thread each: the gemms are small), reporting progress
// every tenth.
func features(ctx context.Context, ps *nn.Params, c ModelConfig, d *dataset, progress func(done, total int)) ([][][]float32, error) {
	if c.pose() {
		// The fixed front end's features were computed at load.
		out := make([][][]float32, len(d.clips))
		for i, cl := range d.clips {
			out[i] = cl.feat
		}
		return out, nil
	}
	defer openblas.Serial()()
	out := make([][][]float32, len(d.clips))
	var (
		mu          sync.Mutex
		done, tenth int
		wg          sync.WaitGroup
	)
	workers := runtime.GOMAXPROCS(0)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f := newFastNet(c, ps)
			in, od := 3*c.inH()*c.inW(), c.obsDim()
			img, prop := make([]float32, in), make([]float32, c.ProprioDim)
			for ci := w; ci < len(d.clips) && ctx.Err() == nil; ci += workers {
				cl := d.clips[ci]
				flat := make([]float32, len(cl.pooled)*od)
				rows := make([][]float32, len(cl.pooled))
				for i := range cl.pooled {
					bytesToUnit(img, cl.pooled[i])
					for j, v := range cl.proprio[i] {
						prop[j] = c.norm(v)
					}
					rows[i] = flat[i*od : (i+1)*od : (i+1)*od]
					f.encode(rows[i], img, prop)
				}
				mu.Lock()
				out[ci] = rows
				done += len(cl.pooled)
				if t := done * 10 / d.steps(); t > tenth {
					tenth = t
					progress(done, d.steps())
				}
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Episodes are a store's training episodes in memory (frames already
// pooled, or read by the pose reader), for training several times.
type Episodes struct{ clips []*clip }

// LoadEpisodes reads the usable episodes of store as Train would.
func LoadEpisodes(ctx context.Context, store *episode.Store, cfg TrainConfig, progress func(done, total int)) (*Episodes, error) {
	d, err := loadDataset(ctx, store, cfg, progress)
	if err != nil {
		return nil, err
	}
	return &Episodes{clips: d.clips}, nil
}

// Len is the number of episodes.
func (e *Episodes) Len() int { return len(e.clips) }
