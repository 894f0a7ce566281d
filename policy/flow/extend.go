package flow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/nn"
)

// Hooks for networks trained on top of a frozen policy (package foresight):
// the flow head as a graph with an extra first-layer input, the head on the
// inference path, the training examples seen through the frozen encoder,
// and an Adapter that corrects the velocity at inference.

// Adapter corrects the flow head's velocity at inference (Policy.Adapter).
type Adapter interface {
	// Adapt adds its correction to v (rows x ChunkDim, row-major), the
	// head's velocity at flow time t, in place.
	Adapt(v []float32, t float64, rows int)
}

// ObsAdapter is an Adapter that also reads each row's observation feature
// (rows x ObsDim, row-major): an optional ability Act checks for.
type ObsAdapter interface {
	Adapter
	AdaptObs(v, obs []float32, t float64, rows int)
}

// MLPAdapter is an Adapter that is a SiLU MLP g on each row's [v | temb(t)
// | obs] (obs only when ReadsObs) added to the velocity, v += g (package
// foresight's): an optional ability. Groups of the batch the head runs on
// oneDNN run it inside the same plan from its weights instead of calling
// Adapt, which smaller groups still call.
type MLPAdapter interface {
	ObsAdapter
	// MLP is its layers in order, SiLU after all but the last; shared, and
	// read-only once the adapter is in use (the plans copy them).
	MLP() []Dense
	ReadsObs() bool
}

// ChunkDim is the flattened size of an action chunk (Horizon x ActionDim).
func (c ModelConfig) ChunkDim() int { return c.chunkDim() }

// ObsDim is the size of the observation feature (keypoints, proprio).
func (c ModelConfig) ObsDim() int { return c.obsDim() }

// CtxDim is the size of the steering-context vector.
func (c ModelConfig) CtxDim() int { return c.ctxDim() }

// Config is the policy's architecture.
func (p *Policy) Config() ModelConfig { return p.cfg }

// Params is the policy's weights, shared, not copied: bind them into a
// graph to build on the frozen policy, never update them.
func (p *Policy) Params() *nn.Params { return p.ps }

// TimeEmbedding writes the sinusoidal embedding of flow time t that the
// head sees (len(dst) even).
func TimeEmbedding(dst []float32, t float64) { timeEmbedding(dst, t) }

// Head builds the flow head into b, whose parameters must include the
// policy's head parameters by name ("in", "h1", ..., "out"): the velocity
// (B, ChunkDim) from the noisy chunk (B, ChunkDim), the time embedding (B,
// TimeDim), the observation feature (B, ObsDim) and the context (B,
// CtxDim). extra, when not nil, is added to the first layer's
// pre-activation (B, Hidden); nil gives exactly the policy's velocity.
func Head(b *nn.Bound, c ModelConfig, xt, temb, obs, ctx, extra *G.Node) (*G.Node, error) {
	return velocity(b, c, xt, temb, obs, ctx, extra)
}

// Velocity runs the head on the inference path for rows rows, inputs
// row-major as in Head (extra rows x Hidden, or nil).
func (p *Policy) Velocity(xt, temb, obs, ctx, extra []float32, rows int) ([]float32, error) {
	return newFastNet(p.cfg, p.ps).velocity(xt, temb, obs, ctx, extra, rows)
}

// ExampleConfig selects and samples training examples for networks built
// on a frozen policy.
type ExampleConfig struct {
	// Sources and MaxEpisodes select episodes as TrainConfig's do.
	Sources     []string
	MaxEpisodes int
	Threads     int
	// Seed and Dropout make batches as the policy's training did.
	Seed    uint64
	Dropout Dropout
	// FeatureCache, if set, is a file holding the frozen encoder's features
	// of these episodes: read when it matches the policy's weights and the
	// data, else written after computing them.
	FeatureCache string
}

// Examples is a policy's training data seen through its frozen encoder:
// every step's observation feature, computed once.
type Examples struct {
	cfg   TrainConfig
	d     *dataset
	feats [][][]float32
}

// LoadExamples reads the usable episodes of store and computes every
// step's observation feature with p's encoder.
func LoadExamples(ctx context.Context, store *episode.Store, p *Policy, ec ExampleConfig, progress func(string)) (*Examples, error) {
	if progress == nil {
		progress = func(string) {}
	}
	cfg := TrainConfig{Model: p.cfg, Seed: ec.Seed, Dropout: ec.Dropout, Sources: ec.Sources,
		MaxEpisodes: ec.MaxEpisodes, Threads: max(1, ec.Threads)}
	d, err := loadDataset(ctx, store, cfg, nil)
	if err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("%d episodes, %d steps (%v)", len(d.clips), d.steps(), d.manifest.Counts))
	e := &Examples{cfg: cfg, d: d}
	key := p.info["weights_sha256"] + "/" + d.manifest.Hash
	// The pose front end's features are computed at load: a cache would
	// only repeat them.
	if ec.FeatureCache != "" && !p.cfg.pose() {
		if e.feats, err = readFeatures(ec.FeatureCache, key, d, p.cfg.obsDim()); err == nil {
			progress("features from " + ec.FeatureCache)
			return e, nil
		}
		progress(fmt.Sprintf("computing features (cache %s: %v)", ec.FeatureCache, err))
	}
	e.feats, err = features(ctx, p.ps, p.cfg, d, func(done, total int) {
		progress(fmt.Sprintf("features of %d/%d frames", done, total))
	})
	if err != nil {
		return nil, err
	}
	if ec.FeatureCache != "" && !p.cfg.pose() {
		if err := writeFeatures(ec.FeatureCache, key, e.feats); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Manifest records the examples' episodes.
func (e *Examples) Manifest() Manifest { return e.d.manifest }

// Episodes is the number of episodes.
func (e *Examples) Episodes() int { return len(e.d.clips) }

// EpisodeID is episode i's id.
func (e *Examples) EpisodeID(i int) string { return e.d.clips[i].id }

// Len is episode i's number of steps.
func (e *Examples) Len(i int) int { return len(e.d.clips[i].actions) }

// Steps is the total number of steps.
func (e *Examples) Steps() int { return e.d.steps() }

// Feature is the observation feature of episode i's step (shared; do not
// modify).
func (e *Examples) Feature(i, step int) []float32 { return e.feats[i][step] }

// At maps a global step index in [0, Steps) to (episode, step).
func (e *Examples) At(k int) (int, int) { return e.d.at(k) }

// Subset keeps the episodes whose id keep accepts (data shared).
func (e *Examples) Subset(keep func(id string) bool) *Examples {
	var clips []*clip
	var feats [][][]float32
	for i, cl := range e.d.clips {
		if keep(cl.id) {
			clips = append(clips, cl)
			feats = append(feats, e.feats[i])
		}
	}
	return &Examples{cfg: e.cfg, d: newDataset(clips), feats: feats}
}

// HeadBatch is one batch of the head's inputs, row-major, with where each
// example came from.
type HeadBatch struct {
	Size                       int
	XT, Temb, Obs, Ctx, Target []float32
	// T is each example's flow time; Episode and Step index Examples.
	T             []float64
	Episode, Step []int
}

// Batch samples the examples of step s exactly as the policy's head stage
// does (context dropout, noise, flow time, target u = eps - a); it depends
// only on (seed, s, size). The set must not be empty.
func (e *Examples) Batch(seed uint64, s, size int) HeadBatch {
	cfg := e.cfg
	cfg.Seed = seed
	b := makeBatch(e.d, cfg, s, size, e.feats)
	return HeadBatch{Size: size, XT: b.xt, Temb: b.temb, Obs: b.obs, Ctx: b.ctx, Target: b.target,
		T: b.t, Episode: b.clip, Step: b.step}
}

// featureMagic starts a feature cache file.
const featureMagic = "dreamrank-flow-features-v1\n"

func writeFeatures(path, key string, feats [][][]float32) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf []byte
	buf = append(buf, featureMagic...)
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(key)))
	buf = append(buf, key...)
	for _, ep := range feats {
		for _, row := range ep {
			buf = append(buf, checkpoint.Bytes(row)...)
		}
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

var errStale = errors.New("stale or foreign cache")

func readFeatures(path, key string, d *dataset, od int) ([][][]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	head := len(featureMagic) + 4 + len(key)
	if len(raw) < head || string(raw[:len(featureMagic)]) != featureMagic ||
		int(binary.LittleEndian.Uint32(raw[len(featureMagic):])) != len(key) ||
		string(raw[len(featureMagic)+4:head]) != key {
		return nil, errStale
	}
	if len(raw)-head != 4*od*d.steps() {
		return nil, io.ErrUnexpectedEOF
	}
	all := checkpoint.Floats(raw[head:])
	out := make([][][]float32, len(d.clips))
	for i, cl := range d.clips {
		out[i] = make([][]float32, len(cl.actions))
		for j := range out[i] {
			out[i][j] = all[:od:od]
			all = all[od:]
		}
	}
	return out, nil
}
