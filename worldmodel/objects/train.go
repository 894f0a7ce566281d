package objects

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/nn"
)

// TrainProgress is reported after every optimizer step.
type TrainProgress struct {
	Step, Steps int
	// Loss is an exponential moving average of the training loss (squared
	// keypoint error in (10 px)^2, averaged over the unrolled steps);
	// LastLoss is this step's.
	Loss, LastLoss float64
	LR             float64
	// ExamplesPerSec counts unrolled windows over this run.
	ExamplesPerSec float64
	Elapsed, ETA   time.Duration
	// Checkpoint is set on the steps that wrote one.
	Checkpoint string
	// Message is set for one-off events (data loaded, resumed, ...).
	Message string
}

// Train learns the dynamics from the episodes of store (all but the
// held-out ones, see split.IsHeldOut) and writes checkpoints to
// cfg.OutDir, returning the final one's path. Block poses are read from the
// frames (cached in cfg.OutDir/poses.json), never taken from ground truth.
// If cfg.OutDir holds a checkpoint, training resumes from it: weights,
// optimizer state and step; batches are a function of (seed, step), so a
// resumed run continues as the uninterrupted one would have.
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
	ds, err := loadDataset(ctx, store, cfg.OutDir, cfg.MaxEpisodes, cfg.Threads, cfg.Episodes, func(msg string) {
		report(TrainProgress{Steps: cfg.Steps, Message: msg})
	})
	if err != nil {
		return "", err
	}
	report(TrainProgress{Steps: cfg.Steps, Message: fmt.Sprintf("loaded %d training episodes (%d frames, %d with an unreadable block; %d held out) in %v",
		len(ds.tracks), ds.frames, ds.unreadable, len(ds.manifest.HeldOutIDs), time.Since(t0).Round(time.Second))})
	return trainOn(ctx, ds, cfg, report)
}

// window is a training example: track t from step s over the unroll.
type window struct{ t, s int }

// windows lists the unroll-long windows whose every frame has a readable
// block, and those among them where the block moves. Windows where the
// reading jumps implausibly far in one step (a T read the wrong way round)
// are left out.
func windows(tracks []*track, unroll int) (all, moving []window) {
	const jumpPx, movePx = 40.0, 1.0
	for ti, t := range tracks {
		n := len(t.poses)
		ok := make([]bool, n)  // pose readable
		step := make([]int, n) // 0 still, 1 moving, 2 implausible, from i to i+1
		for i, p := range t.poses {
			ok[i] = p.OK()
		}
		for i := 0; i+1 < n; i++ {
			if !ok[i] || !ok[i+1] {
				continue
			}
			a, b := t.poses[i], t.poses[i+1]
			pa := pose{float64(a.X), float64(a.Y), float64(a.Angle)}
			pb := pose{float64(b.X), float64(b.Y), float64(b.Angle)}
			switch d := keypointDist(pa, pb); {
			case d > jumpPx:
				step[i] = 2
			case d > movePx:
				step[i] = 1
			}
		}
	next:
		for s := 0; s+unroll < n; s++ {
			mv := false
			for k := s; k <= s+unroll; k++ {
				if !ok[k] {
					continue next
				}
				if k < s+unroll {
					if step[k] == 2 {
						continue next
					}
					mv = mv || step[k] == 1
				}
			}
			all = append(all, window{ti, s})
			if mv {
				moving = append(moving, window{ti, s})
			}
		}
	}
	return all, moving
}

// trainer holds a training run's state.
type trainer struct {
	cfg         TrainConfig
	ds          *dataset
	ps          *nn.Params
	opt         *nn.Adam
	step        int
	wall        float64
	all, moving []window
	agentRMS    float64
}

func trainOn(ctx context.Context, ds *dataset, cfg TrainConfig, report func(TrainProgress)) (string, error) {
	tr := &trainer{cfg: cfg, ds: ds}
	tr.all, tr.moving = windows(ds.tracks, cfg.Unroll)
	if len(tr.all) == 0 {
		return "", fmt.Errorf("%w: no window of %d steps with a readable block", ErrNoData, cfg.Unroll)
	}
	if len(tr.moving) == 0 {
		tr.moving = tr.all
	}
	head, rms, err := fitAgentHead(ds.tracks)
	if err != nil {
		return "", err
	}
	tr.agentRMS = rms
	report(TrainProgress{Steps: cfg.Steps, Message: fmt.Sprintf("%d windows of %d steps (%d with the block moving); agent head %.4f, one-step RMS %.3f px",
		len(tr.all), cfg.Unroll, len(tr.moving), head, rms)})

	c, err := checkpoint.Read(cfg.OutDir, CheckpointFormat, CheckpointVersion, true)
	switch {
	case err == nil:
		saved, ps, err := fromCheckpoint(c)
		if err != nil {
			return "", err
		}
		if saved.Model != cfg.Model {
			return "", fmt.Errorf("%w: %s holds a checkpoint of another architecture (%+v, want %+v); use a new output directory", ErrConfig, cfg.OutDir, saved.Model, cfg.Model)
		}
		tr.ps, tr.step, tr.wall = ps, c.Step, c.WallSeconds
		// The checkpoint's agent head stays: refitted on a fine-tune's
		// smaller, differently distributed data it would be worse (and a
		// plain resume would refit the same one). The head it was fitted
		// with is what the checkpoint records.
		tr.agentRMS = saved.AgentRMSPx
		tr.opt = nn.NewAdam(ps)
		if c.Optimizer != nil && !tr.opt.Restore(c.Optimizer, c.Step) {
			return "", fmt.Errorf("objects: %w: %s: optimizer state does not fit", checkpoint.ErrCorrupt, c.Dir)
		}
		report(TrainProgress{Step: tr.step, Steps: cfg.Steps, Message: fmt.Sprintf("resumed from %s at step %d", c.Dir, tr.step)})
		report(TrainProgress{Step: tr.step, Steps: cfg.Steps, Message: fmt.Sprintf("kept its agent head %.4f", ps.Get(agentParam).Data())})
	case errors.Is(err, checkpoint.ErrNone):
		tr.ps = newParams(cfg.Model, cfg.Seed)
		tr.opt = nn.NewAdam(tr.ps)
	default:
		return "", fmt.Errorf("objects: resume from %s: %w", cfg.OutDir, err)
	}
	if tr.step == 0 {
		for i, w := range head {
			tr.ps.Get(agentParam).Data()[i] = float32(w)
		}
	}
	if tr.step >= cfg.Steps {
		return checkpoint.Resolve(cfg.OutDir)
	}
	tg, err := newTrainGraph(tr.ps, cfg.Model, cfg.Batch, cfg.Unroll)
	if err != nil {
		return "", err
	}
	defer tg.close()

	var (
		t0       = time.Now()
		ema      = math.NaN()
		examples int
		path     string
	)
	for tr.step < cfg.Steps {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		tr.fill(tg)
		loss, grads, err := tg.prog.Run()
		if err != nil {
			return "", fmt.Errorf("objects: step %d: %w", tr.step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return "", fmt.Errorf("objects: step %d: loss is %v", tr.step, loss)
		}
		nn.ClipGrads(grads, 1)
		lr := tr.lr()
		tr.opt.Update(tr.ps, grads, lr, 0)
		tr.step++
		examples += cfg.Batch
		if math.IsNaN(ema) {
			ema = loss
		} else {
			ema = 0.98*ema + 0.02*loss
		}
		el := time.Since(t0)
		p := TrainProgress{Step: tr.step, Steps: cfg.Steps, Loss: ema, LastLoss: loss, LR: lr,
			ExamplesPerSec: float64(examples) / el.Seconds(), Elapsed: el}
		p.ETA = time.Duration(float64(el) / float64(examples) * float64(cfg.Batch*(cfg.Steps-tr.step)))
		if tr.step%cfg.CheckpointEvery == 0 || tr.step == cfg.Steps {
			if path, err = tr.save(ema, tr.wall+el.Seconds()); err != nil {
				return "", err
			}
			p.Checkpoint = path
		}
		report(p)
	}
	return path, nil
}

// lr is the learning rate at the current step: cosine decay to a tenth
// over steps LRFrom..Steps.
func (tr *trainer) lr() float64 {
	f := float64(tr.step-tr.cfg.LRFrom) / float64(tr.cfg.Steps-tr.cfg.LRFrom)
	return tr.cfg.LR * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*f)))
}

// fill draws the step's batch (a function of seed and step) into the graph.
func (tr *trainer) fill(tg *trainGraph) {
	rng := rand.New(rand.NewPCG(tr.cfg.Seed, uint64(tr.step)))
	x0, y0, a0 := tg.x0.Data(), tg.y0.Data(), tg.a0.Data()
	for b := range tg.batch {
		var w window
		if rng.Float64() < tr.cfg.MovingFrac {
			w = tr.moving[rng.IntN(len(tr.moving))]
		} else {
			w = tr.all[rng.IntN(len(tr.all))]
		}
		t := tr.ds.tracks[w.t]
		p := t.poses[w.s]
		x0[b], y0[b], a0[b] = p.X, p.Y, p.Angle
		prev := float64(p.Angle)
		for k, si := range tg.steps {
			s := w.s + k
			si.nowX.Data()[b], si.nowY.Data()[b] = t.agent[s][0], t.agent[s][1]
			si.nextX.Data()[b], si.nextY.Data()[b] = t.agent[s+1][0], t.agent[s+1][1]
			si.uX.Data()[b], si.uY.Data()[b] = t.actions[s][0], t.actions[s][1]
			q := t.poses[s+1]
			prev = unwrap(float64(q.Angle), prev)
			target := pose{float64(q.X), float64(q.Y), prev}
			row := si.target.Data()[b*2*len(keypoints):]
			for j, kp := range keypoints {
				kx, ky := target.world(kp[0], kp[1])
				row[2*j], row[2*j+1] = float32(kx), float32(ky)
			}
		}
	}
}

// save writes a checkpoint with the optimizer state and the data manifest.
func (tr *trainer) save(loss, wall float64) (string, error) {
	conf, err := json.Marshal(savedConfig{Model: tr.cfg.Model, Train: tr.cfg, AgentRMSPx: tr.agentRMS,
		UnreadableFrames: tr.ds.unreadable, TrainFrames: tr.ds.frames})
	if err != nil {
		return "", err
	}
	man, err := json.MarshalIndent(tr.ds.manifest, "", " ")
	if err != nil {
		return "", err
	}
	c := &checkpoint.Checkpoint{
		Meta: checkpoint.Meta{Format: CheckpointFormat, Version: CheckpointVersion, Step: tr.step, Created: time.Now().UTC(),
			Config: conf, DataHash: tr.ds.manifest.Hash, Loss: loss, WallSeconds: wall},
		Weights: tr.ps.Tensors(), Optimizer: tr.opt.Flat(), Manifest: man,
	}
	path, err := checkpoint.Save(tr.cfg.OutDir, checkpointPrefix, c)
	if err != nil {
		return "", fmt.Errorf("objects: save checkpoint: %w", err)
	}
	checkpoint.Prune(tr.cfg.OutDir, checkpointPrefix, 3)
	return path, nil
}
