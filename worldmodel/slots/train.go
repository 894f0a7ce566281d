package slots

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/nn"
)

// TrainProgress is reported after every optimizer step and on one-off
// events (Message set).
type TrainProgress struct {
	Step, Steps int
	// Loss is an exponential moving average of the training loss (squared
	// keypoint error in output units, averaged over the unrolled steps);
	// LastLoss is this step's.
	Loss, LastLoss float64
	LR             float64
	ExamplesPerSec float64
	Elapsed, ETA   time.Duration
	// Checkpoint is set on the steps that wrote one.
	Checkpoint string
	Message    string
}

// Train learns a model from the episodes of store (all but the held-out
// ones, split.IsHeldOut) and writes checkpoints to cfg.OutDir, returning
// the final one's path:
//
//  1. the scene (background and sprites) from a sample of frames, saved
//     in cfg.OutDir so a resumed run keeps it;
//  2. every object's pose in every training frame, by fitting the scene to
//     the frame (cached in cfg.OutDir);
//  3. the proprioception head and the effectors' calibration, by least
//     squares; the objects the proprioception does not explain are passive;
//  4. each passive object's network, by multi-step unrolls.
//
// If cfg.OutDir holds a checkpoint, training resumes from it (weights,
// optimizer state, step); batches are a function of (seed, step).
func Train(ctx context.Context, store *episode.Store, cfg TrainConfig, progress func(TrainProgress)) (string, error) {
	if err := cfg.validate(); err != nil {
		return "", err
	}
	say := func(format string, args ...any) {
		if progress != nil {
			progress(TrainProgress{Steps: cfg.Steps, Message: fmt.Sprintf(format, args...)})
		}
	}
	t0 := time.Now()
	p, err := planData(ctx, store, cfg.MaxEpisodes)
	if err != nil {
		return "", err
	}
	s := p.shape
	say("%d training episodes of %dx%dx%d frames, proprioception %d, action %d (%d held out, %d of another shape skipped)",
		len(p.metas), s.H, s.W, s.C, s.D, s.A, len(p.manifest.HeldOutIDs), p.skipped)
	l, err := sceneFor(ctx, store, p, cfg, say)
	if err != nil {
		return "", err
	}
	tracks, err := readTracks(ctx, store, p, l, cfg.OutDir, cfg.Threads, func(m string) { say("%s", m) })
	if err != nil {
		return "", err
	}
	good, all := trackedFrames(tracks, l.cfg.Refit)
	say("read the objects of %d training frames in %v: %d (%.1f%%) fit within %.0f grey levels RMS",
		all, time.Since(t0).Round(time.Second), good, 100*float64(good)/float64(max(1, all)), l.cfg.Refit)
	d, err := fitHeads(tracks, l, cfg, say)
	if err != nil {
		return "", err
	}
	tr := &trainer{cfg: cfg, d: d, tracks: tracks, manifest: p, tracked: good, frames: all}
	return tr.run(ctx, progress)
}

// sceneFor loads the scene saved in the training directory or learns it.
func sceneFor(ctx context.Context, store *episode.Store, p *plan, cfg TrainConfig, say func(string, ...any)) (*learned, error) {
	path := filepath.Join(cfg.OutDir, SceneCacheFile)
	if l, ok := loadLearned(path, cfg.Scene); ok {
		say("scene %s from %s: %d objects", l.hash(), path, len(l.scene.Sprites))
		return l, nil
	}
	t0 := time.Now()
	starts, frames, err := sceneFrames(ctx, store, p, cfg.Scene.Frames)
	if err != nil {
		return nil, err
	}
	s := p.shape
	l, err := learnScene(starts, frames, s.H, s.W, s.C, cfg.Scene)
	if err != nil {
		return nil, err
	}
	if err := l.save(path); err != nil {
		return nil, fmt.Errorf("slots: save scene: %w", err)
	}
	say("learned the scene from %d episode starts and %d frames in %v: %d objects (frames by objects seen apart: %v; sightings averaged: %v)",
		len(starts), len(frames), time.Since(t0).Round(time.Second), len(l.scene.Sprites), l.counts, l.sightings)
	return l, nil
}

// trackedFrames counts the frames whose every object fitted within refit.
func trackedFrames(tracks []*track, refit float64) (good, all int) {
	for _, t := range tracks {
		for _, r := range t.rms {
			all++
			ok := true
			for _, v := range r {
				ok = ok && float64(v) <= refit
			}
			if ok {
				good++
			}
		}
	}
	return good, all
}

// fitHeads fits the proprioception head and every object's calibration,
// sorts the objects into effectors and passive ones, and assembles the
// model's parts with the passive networks untrained.
func fitHeads(tracks []*track, l *learned, cfg TrainConfig, say func(string, ...any)) (*dynamics, error) {
	head, headRMS, err := fitProprioHead(tracks)
	if err != nil {
		return nil, err
	}
	s := l.scene
	lay := layout{Shape: shape{s.H, s.W, s.C, head.D, head.A}, HeadRMS: headRMS}
	for k, sp := range s.Sprites {
		lay.Sprites = append(lay.Sprites, spriteInfo{Side: sp.Side, Scale: sp.Scale, Colour: l.colours[k], Sightings: l.sightings[k]})
	}
	var effs []*effector
	for k := range s.Sprites {
		e, err := fitEffector(tracks, k, l.cfg.Refit)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", k, err)
		}
		role := "passive"
		if e.RMS <= cfg.Model.EffectorRMS {
			role = "effector"
			lay.Effectors = append(lay.Effectors, effectorInfo{Object: k, Angle: e.Angle, RMS: e.RMS})
			effs = append(effs, e)
		} else {
			lay.Passives = append(lay.Passives, k)
		}
		say("object %d: %s (position from proprioception: RMS %.3f px)", k, role, e.RMS)
	}
	if len(effs) == 0 {
		return nil, fmt.Errorf("%w: no object's position follows the proprioception within %.2f px: nothing shows the robot acting", ErrNoData, cfg.Model.EffectorRMS)
	}
	say("proprioception head: one-step RMS %.4f", headRMS)
	ps := newParams(cfg.Model, lay, cfg.Seed)
	copy(ps.Get("scene.background").Data(), s.Background)
	for k, sp := range s.Sprites {
		copy(ps.Get(fmt.Sprintf("scene.sprite%d.alpha", k)).Data(), sp.Alpha)
		copy(ps.Get(fmt.Sprintf("scene.sprite%d.premul", k)).Data(), sp.Premul)
	}
	copy(ps.Get("scene.room").Data(), learnRoom(s, tracks, l.cfg.Refit, 3))
	copy(ps.Get("head.m").Data(), toF32(head.M))
	for i, e := range effs {
		copy(ps.Get(fmt.Sprintf("effector%d.w", lay.Effectors[i].Object)).Data(), toF32(e.W))
	}
	return assemble(cfg.Model, lay, ps), nil
}

// window is a training example: track t from step s over the unroll.
type window struct{ t, s int }

// windows lists the unroll-long windows (with two steps of history before
// and one after) whose every passive object was read well, and those among
// them where one moves. Steps where a reading jumps implausibly far are
// left out.
func windows(d *dynamics, tracks []*track, unroll int, refit float64, kps [][][2]float64) (all, moving []window) {
	w := float64(d.lay.Shape.W)
	jump, move := w/8, w/500
	for ti, t := range tracks {
		n := len(t.poses)
		ok := make([]bool, n)
		step := make([]int, n) // 0 still, 1 moving, 2 implausible, from i to i+1
		for i := range n {
			ok[i] = true
			for _, k := range d.lay.Passives {
				ok[i] = ok[i] && float64(t.rms[i][k]) <= refit
			}
		}
		for i := 0; i+1 < n; i++ {
			if !ok[i] || !ok[i+1] {
				continue
			}
			for j, k := range d.lay.Passives {
				a, b := t.poses[i][k], t.poses[i+1][k]
				b.A = unwrap(b.A, a.A)
				switch m := keypointDist(a, b, kps[j]); {
				case m > jump:
					step[i] = 2
				case m > move && step[i] == 0:
					step[i] = 1
				}
			}
		}
	next:
		for s := 2; s+unroll+1 < n; s++ {
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

// unwrap returns angle a shifted by a multiple of 2pi to lie within pi of ref.
func unwrap(a, ref float64) float64 { return ref + math.Remainder(a-ref, 2*math.Pi) }

// keypointDist is the largest keypoint displacement between two poses.
func keypointDist(a, b Pose, kps [][2]float64) float64 {
	m := 0.0
	for _, k := range kps {
		ax, ay := a.world(k[0], k[1])
		bx, by := b.world(k[0], k[1])
		m = math.Max(m, math.Hypot(ax-bx, ay-by))
	}
	return m
}

// trainer holds a training run's state.
type trainer struct {
	cfg         TrainConfig
	d           *dynamics
	tracks      []*track
	manifest    *plan
	tracked     int
	frames      int
	kps         [][][2]float64
	all, moving []window
	opt         *nn.Adam
	step        int
	wall        float64
	// mlps and feat run unrolls forward for the contact depths.
	mlps []forward
	feat []float32
}

func (tr *trainer) run(ctx context.Context, progress func(TrainProgress)) (string, error) {
	cfg := tr.cfg
	report := func(p TrainProgress) {
		if progress != nil {
			progress(p)
		}
	}
	for _, k := range tr.d.lay.Passives {
		tr.kps = append(tr.kps, keypoints(tr.d.scene.Sprites[k], cfg.Model.Keypoints))
	}
	tr.all, tr.moving = windows(tr.d, tr.tracks, cfg.Unroll, cfg.Scene.Refit, tr.kps)
	if len(tr.d.lay.Passives) > 0 && len(tr.all) == 0 {
		return "", fmt.Errorf("%w: no window of %d steps with every passive object read", ErrNoData, cfg.Unroll)
	}
	if len(tr.moving) == 0 {
		tr.moving = tr.all
	}
	report(TrainProgress{Steps: cfg.Steps, Message: fmt.Sprintf("%d windows of %d steps (%d with a passive object moving)", len(tr.all), cfg.Unroll, len(tr.moving))})
	if err := tr.resume(report); err != nil {
		return "", err
	}
	if tr.step >= cfg.Steps {
		return checkpoint.Resolve(cfg.OutDir)
	}
	if len(tr.d.lay.Passives) == 0 {
		// Nothing to learn beyond the fits: the robot moves alone.
		tr.step = cfg.Steps
		return tr.save(0, tr.wall)
	}
	tg, err := newTrainGraph(tr.d, tr.kps, cfg.Batch, cfg.Unroll)
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
			return "", fmt.Errorf("slots: step %d: %w", tr.step, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return "", fmt.Errorf("slots: step %d: loss is %v", tr.step, loss)
		}
		nn.ClipGrads(grads, 1)
		lr := tr.lr()
		tr.opt.Update(tr.d.ps, grads, lr, 0)
		tr.step++
		examples += cfg.Batch
		if math.IsNaN(ema) {
			ema = loss
		}
		ema = 0.98*ema + 0.02*loss
		el := time.Since(t0)
		p := TrainProgress{Step: tr.step, Steps: cfg.Steps, Loss: ema, LastLoss: loss, LR: lr,
			ExamplesPerSec: float64(examples) / el.Seconds(), Elapsed: el,
			ETA: time.Duration(float64(el) / float64(examples) * float64(cfg.Batch*(cfg.Steps-tr.step)))}
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

// resume continues from the checkpoint in the output directory, if any,
// after checking it is of the same model.
func (tr *trainer) resume(report func(TrainProgress)) error {
	c, err := checkpoint.Read(tr.cfg.OutDir, CheckpointFormat, CheckpointVersion, true)
	switch {
	case errors.Is(err, checkpoint.ErrNone):
		tr.opt = nn.NewAdam(tr.d.ps)
		return nil
	case err != nil:
		return fmt.Errorf("slots: resume from %s: %w", tr.cfg.OutDir, err)
	}
	saved, ps, err := fromCheckpoint(c)
	if err != nil {
		return err
	}
	a, _ := json.Marshal(saved.Layout)
	b, _ := json.Marshal(tr.d.lay)
	if saved.Model != tr.cfg.Model || string(a) != string(b) {
		return fmt.Errorf("%w: %s holds a checkpoint of another model or scene; use a new output directory", ErrConfig, tr.cfg.OutDir)
	}
	tr.d = assemble(saved.Model, saved.Layout, ps)
	tr.step, tr.wall = c.Step, c.WallSeconds
	tr.opt = nn.NewAdam(ps)
	if c.Optimizer != nil && !tr.opt.Restore(c.Optimizer, c.Step) {
		return fmt.Errorf("slots: %w: %s: optimizer state does not fit", checkpoint.ErrCorrupt, c.Dir)
	}
	report(TrainProgress{Step: tr.step, Steps: tr.cfg.Steps, Message: fmt.Sprintf("resumed from %s at step %d", c.Dir, tr.step)})
	return nil
}

// lr is the learning rate at the current step: cosine decay to a tenth.
func (tr *trainer) lr() float64 {
	f := float64(tr.step) / float64(tr.cfg.Steps)
	return tr.cfg.LR * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*f)))
}

// fill draws the step's batch (a function of seed and step) into the graph.
func (tr *trainer) fill(tg *trainGraph) {
	d := tr.d
	rng := rand.New(rand.NewPCG(tr.cfg.Seed, uint64(tr.step)))
	for b := range tg.batch {
		w := tr.all[rng.IntN(len(tr.all))]
		if rng.Float64() < tr.cfg.MovingFrac {
			w = tr.moving[rng.IntN(len(tr.moving))]
		}
		t := tr.tracks[w.t]
		for j, k := range d.lay.Passives {
			p := t.poses[w.s][k]
			tg.start[j][0].Data()[b], tg.start[j][1].Data()[b], tg.start[j][2].Data()[b] = float32(p.X), float32(p.Y), float32(p.A)
			prev := p.A
			for st, si := range tg.steps {
				q := t.poses[w.s+st+1][k]
				q.A = unwrap(q.A, prev)
				prev = q.A
				row := si.targets[j].Data()[b*2*len(tg.kps[j]):]
				for i, kp := range tg.kps[j] {
					x, y := q.world(kp[0], kp[1])
					row[2*i], row[2*i+1] = float32(x), float32(y)
				}
			}
		}
		for st, si := range tg.steps {
			s := w.s + st
			// t+2 as imagined rollouts see it: the head's prediction under
			// the same action.
			next2 := d.head.next([3][]float32{t.proprio[s+1], t.proprio[s], t.proprio[s-1]}, t.actions[s])
			for e, ef := range d.eff {
				for i, pr := range [4][]float32{t.proprio[s-1], t.proprio[s], t.proprio[s+1], next2} {
					q := ef.pose(pr)
					si.pts[e][i][0].Data()[b], si.pts[e][i][1].Data()[b] = float32(q.X), float32(q.Y)
				}
			}
		}
		if d.cfg.ContactDepth {
			tr.fillDepths(tg, b)
		}
	}
}

// fillDepths runs batch row b's unroll forward with the current weights, as
// the graph will, and writes each step's contact depths at the poses the
// graph will reach.
func (tr *trainer) fillDepths(tg *trainGraph, b int) {
	d := tr.d
	if tr.mlps == nil {
		tr.mlps = d.newMLPs(true)
		tr.feat = make([]float32, d.cfg.perEffector()*len(d.eff))
	}
	paths := make([]effectorPath, len(d.eff))
	for j := range d.lay.Passives {
		st := tg.start[j]
		p := Pose{X: float64(st[0].Data()[b]), Y: float64(st[1].Data()[b]), A: float64(st[2].Data()[b])}
		for _, si := range tg.steps {
			for e := range d.eff {
				for i := range 4 {
					paths[e][i] = [2]float64{float64(si.pts[e][i][0].Data()[b]), float64(si.pts[e][i][1].Data()[b])}
				}
			}
			d.features(tr.feat, j, p, paths)
			per := d.cfg.perEffector()
			for e := range d.eff {
				for i := range 4 {
					si.depth[j][e][i].Data()[b] = tr.feat[e*per+8+i]
				}
			}
			var o [3]float32
			tr.mlps[j].Run(o[:], tr.feat)
			// Unconstrained and ungated, as in the graph.
			p = p.moved(d.shiftScale*float64(o[0]), d.shiftScale*float64(o[1]), d.turnScale*float64(o[2]))
		}
	}
}

// save writes a checkpoint with the optimizer state and the data manifest.
func (tr *trainer) save(loss, wall float64) (string, error) {
	conf, err := json.Marshal(savedConfig{Model: tr.cfg.Model, Train: tr.cfg, Layout: tr.d.lay, TrackedFrames: tr.tracked, TrainFrames: tr.frames})
	if err != nil {
		return "", err
	}
	man, err := json.MarshalIndent(tr.manifest.manifest, "", " ")
	if err != nil {
		return "", err
	}
	c := &checkpoint.Checkpoint{
		Meta: checkpoint.Meta{Format: CheckpointFormat, Version: CheckpointVersion, Step: tr.step, Created: time.Now().UTC(),
			Config: conf, DataHash: tr.manifest.manifest.Hash, Loss: loss, WallSeconds: wall},
		Weights: tr.d.ps.Tensors(), Optimizer: tr.opt.Flat(), Manifest: man,
	}
	path, err := checkpoint.Save(tr.cfg.OutDir, checkpointPrefix, c)
	if err != nil {
		return "", fmt.Errorf("slots: save checkpoint: %w", err)
	}
	checkpoint.Prune(tr.cfg.OutDir, checkpointPrefix, 3)
	return path, nil
}
