package objects

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/split"
)

// FineTuneFile is the fine-tune's dataset manifest, written into the
// fine-tuned checkpoint directory (and, as the plan of a run in progress,
// into the output directory).
const FineTuneFile = "finetune.json"

// FineTuneConfig configures FineTune.
type FineTuneConfig struct {
	// Parent is the checkpoint to continue from: a checkpoint directory or a
	// training directory (its latest).
	Parent string
	// OutDir receives a copy of the parent checkpoint and the fine-tune's
	// versioned checkpoints. It must be new, the parent's own training
	// directory (fine-tune in place), or an interrupted fine-tune of the same
	// parent (resumed, on the same episodes).
	OutDir string
	// Steps optimizer steps on top of the parent's; LR the peak learning
	// rate, decayed by a cosine to a tenth over these steps.
	Steps int
	LR    float64
	// Batch and Unroll: 0 keeps the parent's.
	Batch, Unroll int
	// New episodes are the store's episodes the parent (and its ancestors)
	// never saw, of Source (empty: any) created at or after Since (zero:
	// any). Held-out ones (split.IsHeldOut) among them are kept for
	// evaluation.
	Source string
	Since  time.Time
	// Replay is how many of the parent's training episodes are trained on
	// again per new episode (0: none), so the model does not forget the old
	// distribution while it learns the new one.
	Replay float64
	// MaxNew caps the new training episodes (the oldest first; 0: all).
	MaxNew          int
	Seed            uint64
	CheckpointEvery int
	Threads         int
}

// DefaultFineTuneConfig: 300 steps at a third of the training learning
// rate, on fleet episodes, with three replayed episodes per new one (on
// 133 fleet episodes, replay 1 cost the held-out human demonstrations 19%
// of block error at 32 steps, replay 3 11%, for about the same gain on
// held-out fleet episodes; see the README).
func DefaultFineTuneConfig() FineTuneConfig {
	t := DefaultTrainConfig()
	return FineTuneConfig{
		Parent: "checkpoints/pusht-objects", OutDir: "data/wm/pusht-objects-ft",
		Steps: 300, LR: 3e-4, Source: "fleet", Replay: 3, Seed: 2,
		CheckpointEvery: 100, Threads: t.Threads,
	}
}

// ParentRef identifies the checkpoint a fine-tune started from.
type ParentRef struct {
	Dir      string    `json:"dir"`
	Step     int       `json:"step"`
	Created  time.Time `json:"created"`
	DataHash string    `json:"data_hash"`
	// WeightsSHA256 is the parent's weights.bin checksum: its identity.
	WeightsSHA256 string `json:"weights_sha256"`
}

// FineTuneManifest records what a fine-tune trained on.
type FineTuneManifest struct {
	Parent ParentRef `json:"parent"`
	// Selection of the new episodes.
	Source string    `json:"source,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	Replay float64   `json:"replay"`
	// NewIDs are the new training episodes and ReplayIDs the parent's
	// replayed ones, by source; HeldOutNewIDs the new episodes held out
	// (split.IsHeldOut), for evaluation on the new distribution.
	NewIDs        map[string][]string `json:"new_ids_by_source"`
	ReplayIDs     map[string][]string `json:"replay_ids_by_source"`
	HeldOutNewIDs []string            `json:"held_out_new_ids"`
	// Counts: new_episodes, new_steps, replay_episodes, replay_steps,
	// held_out_new_episodes, train_episodes, train_steps.
	Counts map[string]int `json:"counts"`
	// NewFrom and NewTo are the creation times of the oldest and newest new
	// episode (held-out ones included).
	NewFrom time.Time `json:"new_created_from"`
	NewTo   time.Time `json:"new_created_to"`
	// DataHash is checkpoint.DataHash of the training episodes (new and
	// replayed), the checkpoint's data_hash; NewDataHash of the new ones.
	DataHash    string `json:"data_hash"`
	NewDataHash string `json:"new_data_hash"`
	// SeenIDs is every episode this model or its ancestors trained on or
	// held out: the next fine-tune's new episodes are the others.
	SeenIDs []string `json:"seen_ids"`
	// FromStep and ToStep are the optimizer steps of the fine-tune.
	FromStep int `json:"from_step"`
	ToStep   int `json:"to_step"`
	// Checkpoint is the fine-tuned checkpoint directory (empty in a plan).
	Checkpoint  string  `json:"checkpoint,omitempty"`
	WallSeconds float64 `json:"wall_seconds,omitempty"`
	// Fidelity is the caller's before/after evaluation (see wm finetune).
	Fidelity json.RawMessage `json:"fidelity,omitempty"`
}

// Write writes the manifest to dir/FineTuneFile atomically.
func (m *FineTuneManifest) Write(dir string) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, FineTuneFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, FineTuneFile))
}

// ReadFineTuneManifest reads dir/FineTuneFile.
func ReadFineTuneManifest(dir string) (*FineTuneManifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, FineTuneFile))
	if err != nil {
		return nil, err
	}
	var m FineTuneManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("objects: %s: %w", filepath.Join(dir, FineTuneFile), err)
	}
	return &m, nil
}

// trainable reports whether an episode fits the model (loadDataset's rule).
func trainable(m episode.Meta) bool {
	return m.FrameH == frameSize && m.FrameW == frameSize && m.Channels == 3 && m.ProprioDim == 2 && m.ActionDim == 2 && m.Steps >= 2
}

// FineTune continues training the parent checkpoint on the episodes new
// since its data (plus a replay share of its own training episodes), in
// cfg.OutDir, and writes the manifest (FineTuneFile) into the resulting
// checkpoint directory. Block poses are read from frames as in Train (the
// parent training directory's pose cache is copied when there is one).
func FineTune(ctx context.Context, store *episode.Store, cfg FineTuneConfig, progress func(TrainProgress)) (*FineTuneManifest, error) {
	if cfg.Steps < 1 || cfg.LR <= 0 || cfg.Replay < 0 || cfg.OutDir == "" || cfg.Parent == "" || cfg.Batch < 0 || cfg.Unroll < 0 {
		return nil, fmt.Errorf("%w: fine-tune %+v", ErrConfig, cfg)
	}
	t0 := time.Now()
	parentDir, err := checkpoint.Resolve(cfg.Parent)
	if err != nil {
		return nil, fmt.Errorf("objects: parent: %w", err)
	}
	parent, err := checkpoint.Read(parentDir, CheckpointFormat, CheckpointVersion, true)
	if err != nil {
		return nil, fmt.Errorf("objects: parent: %w", err)
	}
	saved, _, err := fromCheckpoint(parent)
	if err != nil {
		return nil, err
	}
	ref := ParentRef{Dir: parentDir, Step: parent.Step, Created: parent.Created, DataHash: parent.DataHash,
		WeightsSHA256: parent.Files[checkpoint.WeightsFile].SHA256}

	// The output directory: new, the parent's own, or our interrupted run.
	var (
		plan  *FineTuneManifest
		fresh bool
	)
	switch outLatest, err := checkpoint.Resolve(cfg.OutDir); {
	case errors.Is(err, checkpoint.ErrNone), errors.Is(err, os.ErrNotExist):
		fresh = true
	case err != nil:
		return nil, err
	case sameDir(outLatest, parentDir):
		// In place: the new checkpoints follow the parent's.
	default:
		p, perr := ReadFineTuneManifest(cfg.OutDir)
		if perr != nil || p.Parent.WeightsSHA256 != ref.WeightsSHA256 || p.Parent.Step != ref.Step {
			return nil, fmt.Errorf("%w: %s holds a checkpoint that is neither %s nor a fine-tune of it in progress: use a new output directory, or give it as the parent", ErrConfig, cfg.OutDir, parentDir)
		}
		plan = p
	}

	man, err := selectFineTune(ctx, store, cfg, parent, ref)
	if err != nil {
		return nil, err
	}
	if plan != nil {
		// Resume on the episodes the interrupted run chose.
		man.NewIDs, man.ReplayIDs, man.HeldOutNewIDs = plan.NewIDs, plan.ReplayIDs, plan.HeldOutNewIDs
		man.SeenIDs, man.NewFrom, man.NewTo = plan.SeenIDs, plan.NewFrom, plan.NewTo
		if err := man.count(ctx, store); err != nil {
			return nil, err
		}
	}
	if fresh {
		if err := copyCheckpoint(parent, cfg.OutDir); err != nil {
			return nil, fmt.Errorf("objects: copy the parent checkpoint: %w", err)
		}
		for _, d := range []string{cfg.Parent, filepath.Dir(parentDir)} {
			if err := copyIfMissing(filepath.Join(d, PoseCacheFile), filepath.Join(cfg.OutDir, PoseCacheFile)); err == nil {
				break
			}
		}
	}
	man.FromStep, man.ToStep = parent.Step, parent.Step+cfg.Steps
	if err := man.Write(cfg.OutDir); err != nil {
		return nil, err
	}

	tc := saved.Train
	tc.Model = saved.Model
	tc.OutDir, tc.Steps, tc.LRFrom, tc.LR = cfg.OutDir, man.ToStep, man.FromStep, cfg.LR
	if cfg.Batch > 0 {
		tc.Batch = cfg.Batch
	}
	if cfg.Unroll > 0 {
		tc.Unroll = cfg.Unroll
	}
	tc.Seed, tc.CheckpointEvery, tc.Threads, tc.MaxEpisodes = cfg.Seed, max(1, cfg.CheckpointEvery), cfg.Threads, 0
	tc.Episodes = nil
	for _, ids := range [2]map[string][]string{man.NewIDs, man.ReplayIDs} {
		for _, l := range ids {
			tc.Episodes = append(tc.Episodes, l...)
		}
	}
	path, err := Train(ctx, store, tc, progress)
	if err != nil {
		return nil, err
	}
	got, err := checkpoint.Read(path, CheckpointFormat, CheckpointVersion, false)
	if err != nil {
		return nil, err
	}
	if got.DataHash != man.DataHash {
		return nil, fmt.Errorf("objects: fine-tune trained on data %s, the manifest says %s", got.DataHash, man.DataHash)
	}
	man.Checkpoint = path
	man.WallSeconds = time.Since(t0).Seconds()
	if err := man.Write(path); err != nil {
		return nil, err
	}
	return man, man.Write(cfg.OutDir)
}

// selectFineTune chooses the new and replayed episodes.
func selectFineTune(ctx context.Context, store *episode.Store, cfg FineTuneConfig, parent *checkpoint.Checkpoint, ref ParentRef) (*FineTuneManifest, error) {
	seen := map[string]bool{}
	var pm split.Manifest
	if parent.Manifest != nil {
		if err := json.Unmarshal(parent.Manifest, &pm); err != nil {
			return nil, fmt.Errorf("objects: %w: %s: manifest: %v", checkpoint.ErrCorrupt, parent.Dir, err)
		}
	}
	for _, l := range [][]string{pm.TrainIDs, pm.HeldOutIDs} {
		for _, id := range l {
			seen[id] = true
		}
	}
	if anc, err := ReadFineTuneManifest(parent.Dir); err == nil {
		for _, id := range anc.SeenIDs {
			seen[id] = true
		}
	}
	parentTrain := map[string]bool{}
	for _, id := range pm.TrainIDs {
		parentTrain[id] = true
	}
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	man := &FineTuneManifest{Parent: ref, Source: cfg.Source, Since: cfg.Since, Replay: cfg.Replay,
		NewIDs: map[string][]string{}, ReplayIDs: map[string][]string{}}
	var newIDs []string // training ones, oldest first (List's order)
	var replayPool []episode.Meta
	for _, m := range metas {
		if !trainable(m) {
			continue
		}
		if seen[m.ID] {
			if parentTrain[m.ID] && !split.IsHeldOut(m) {
				replayPool = append(replayPool, m)
			}
			continue
		}
		if (cfg.Source != "" && m.Source != cfg.Source) || (!cfg.Since.IsZero() && m.Created.Before(cfg.Since)) {
			continue
		}
		if split.IsHeldOut(m) {
			man.HeldOutNewIDs = append(man.HeldOutNewIDs, m.ID)
		} else {
			if cfg.MaxNew > 0 && len(newIDs) == cfg.MaxNew {
				continue
			}
			newIDs = append(newIDs, m.ID)
			man.NewIDs[m.Source] = append(man.NewIDs[m.Source], m.ID)
		}
		if man.NewFrom.IsZero() || m.Created.Before(man.NewFrom) {
			man.NewFrom = m.Created
		}
		if m.Created.After(man.NewTo) {
			man.NewTo = m.Created
		}
	}
	if len(newIDs) == 0 {
		return nil, fmt.Errorf("%w: no new training episodes in %s (source %q, since %v) that %s has not seen (%d new held-out ones)",
			ErrNoData, store.Root(), cfg.Source, cfg.Since, parent.Dir, len(man.HeldOutNewIDs))
	}
	// Replay: a seeded sample of the parent's training episodes.
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5265706c6179))
	rng.Shuffle(len(replayPool), func(i, j int) { replayPool[i], replayPool[j] = replayPool[j], replayPool[i] })
	n := min(len(replayPool), int(math.Round(cfg.Replay*float64(len(newIDs)))))
	for _, m := range replayPool[:n] {
		man.ReplayIDs[m.Source] = append(man.ReplayIDs[m.Source], m.ID)
	}
	for id := range seen {
		man.SeenIDs = append(man.SeenIDs, id)
	}
	man.SeenIDs = append(man.SeenIDs, newIDs...)
	man.SeenIDs = append(man.SeenIDs, man.HeldOutNewIDs...)
	for _, l := range []map[string][]string{man.NewIDs, man.ReplayIDs} {
		for _, ids := range l {
			sort.Strings(ids)
		}
	}
	sort.Strings(man.HeldOutNewIDs)
	sort.Strings(man.SeenIDs)
	return man, man.count(ctx, store)
}

// count fills Counts and the data hashes from the store's metadata.
func (m *FineTuneManifest) count(ctx context.Context, store *episode.Store) error {
	m.Counts = map[string]int{"held_out_new_episodes": len(m.HeldOutNewIDs)}
	all, fresh := map[string]int{}, map[string]int{}
	for kind, l := range map[string]map[string][]string{"new": m.NewIDs, "replay": m.ReplayIDs} {
		for src, ids := range l {
			for _, id := range ids {
				if err := ctx.Err(); err != nil {
					return err
				}
				meta, err := store.GetMeta(id)
				if err != nil {
					return err
				}
				all[id] = meta.Steps
				if kind == "new" {
					fresh[id] = meta.Steps
				}
				m.Counts[kind+"_episodes"]++
				m.Counts[kind+"_episodes_"+src]++
				m.Counts[kind+"_steps"] += meta.Steps
				m.Counts["train_episodes"]++
				m.Counts["train_steps"] += meta.Steps
			}
		}
	}
	m.DataHash, m.NewDataHash = checkpoint.DataHash(all), checkpoint.DataHash(fresh)
	return nil
}

// copyCheckpoint writes the parent checkpoint, unchanged, as outDir's
// latest (a versioned directory named after its step).
func copyCheckpoint(c *checkpoint.Checkpoint, outDir string) error {
	meta, err := os.ReadFile(filepath.Join(c.Dir, checkpoint.MetaFile))
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for name := range c.Files {
		b, err := checkpoint.ReadFile(c.Dir, c.Files, name)
		if err != nil {
			return err
		}
		files[name] = b
	}
	_, err = checkpoint.Write(outDir, checkpoint.Name(checkpointPrefix, c.Version, c.Step), files,
		func(map[string]checkpoint.FileChecksum) ([]byte, error) { return meta, nil })
	return err
}

func copyIfMissing(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

func sameDir(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}
