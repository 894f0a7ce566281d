// Package split is the evaluation split of an episode store, shared by
// every world model so their held-out numbers compare, and the manifest a
// checkpoint keeps of the data it was trained on.
package split

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	"dreamrank/foundation/episode"
)

// HumanSource is the source of the imported human demonstrations.
const HumanSource = "pusht_cchi_v7_replay"

// IsHeldOut reports whether an episode is held out of training, for
// evaluation. The rule is fixed so that every evaluator uses the same split:
//
//   - human demonstrations (source pusht_cchi_v7_replay) whose
//     extra.episode_index is a multiple of 10 (21 of 206);
//   - simulated episodes (source sim) whose seed is a multiple of 50;
//   - any other episode whose id hashes (FNV-1a 32) to 0 modulo 10.
func IsHeldOut(m episode.Meta) bool {
	switch m.Source {
	case HumanSource:
		i, err := strconv.Atoi(m.Extra["episode_index"])
		if err == nil {
			return i%10 == 0
		}
	case "sim":
		if m.Seed != nil {
			return *m.Seed%50 == 0
		}
	}
	h := fnv.New32a()
	h.Write([]byte(m.ID))
	return h.Sum32()%10 == 0
}

// HeldOut returns the held-out episodes among metas, in their order.
func HeldOut(metas []episode.Meta) []episode.Meta {
	var out []episode.Meta
	for _, m := range metas {
		if IsHeldOut(m) {
			out = append(out, m)
		}
	}
	return out
}

// SelectHeldOut is the evaluation split of metas: the held-out human
// demonstrations, plus the held-out simulated episodes when withSim, at
// most limit of them (0: all), in HeldOut's order.
func SelectHeldOut(metas []episode.Meta, withSim bool, limit int) []episode.Meta {
	var out []episode.Meta
	for _, m := range HeldOut(metas) {
		if m.Source != HumanSource && !withSim {
			continue
		}
		if limit > 0 && len(out) == limit {
			break
		}
		out = append(out, m)
	}
	return out
}

// LoadHeldOut loads the evaluation split from the episode store in data:
// the held-out human demonstrations, plus the held-out simulated episodes
// when withSim, at most limit of them (0: all).
func LoadHeldOut(ctx context.Context, data string, withSim bool, limit int) ([]*episode.Episode, error) {
	store, err := episode.Open(data)
	if err != nil {
		return nil, err
	}
	metas, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, err
	}
	var eps []*episode.Episode
	for _, m := range SelectHeldOut(metas, withSim, limit) {
		e, err := store.Get(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		eps = append(eps, e)
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("no held-out episodes in %s: import the human demonstrations first (dreamrank dataset import --data %s)", data, data)
	}
	return eps, nil
}

// Manifest records which data a checkpoint was trained on.
type Manifest struct {
	TrainIDs   []string       `json:"train_ids"`
	HeldOutIDs []string       `json:"held_out_ids"`
	Counts     map[string]int `json:"counts"` // episodes and steps per source, "train_steps", ...
	// Hash is the SHA-256 of the sorted training ids and their step counts.
	Hash string `json:"hash"`
}
