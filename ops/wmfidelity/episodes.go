package wmfidelity

import (
	"context"
	"fmt"
	"log/slog"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/worldmodel/split"
)

// Episodes are the evaluation episodes.
type Episodes interface {
	// Prepare makes them available (HeldOut imports them into an empty
	// store); quick when they are.
	Prepare(ctx context.Context) error
	// Set names them without reading their steps (for the key); none
	// wraps ErrNoEpisodes.
	Set(ctx context.Context) (EpisodeSet, error)
	// Load reads them.
	Load(ctx context.Context) ([]*episode.Episode, error)
}

// HeldOut are the held-out episodes of the episode store in Dir (the
// built-in models' split, split.HeldOut): human demonstrations, and with
// WithSim the simulated ones too; the episodes `dreamrank wm eval --data
// Dir` evaluates on.
type HeldOut struct {
	Dir     string
	WithSim bool
	Limit   int // at most this many (0: all)
	// Import is a replay buffer Prepare imports into the store when it
	// holds no held-out episode (a fresh server's data directory holds
	// none); "" imports nothing.
	Import string
	Log    *slog.Logger
}

func (h HeldOut) name() string {
	if h.WithSim {
		return "held-out human and simulated episodes"
	}
	return "held-out human demonstrations"
}

func (h HeldOut) metas(ctx context.Context) (*episode.Store, []episode.Meta, error) {
	store, err := episode.Open(h.Dir)
	if err != nil {
		return nil, nil, err
	}
	all, err := store.List(ctx, episode.Filter{})
	if err != nil {
		return nil, nil, err
	}
	return store, split.SelectHeldOut(all, h.WithSim, h.Limit), nil
}

// Prepare implements Episodes.
func (h HeldOut) Prepare(ctx context.Context) error {
	store, metas, err := h.metas(ctx)
	if err != nil || len(metas) > 0 || h.Import == "" {
		return err
	}
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	log.Info("fidelity: no held-out episodes in the store: importing the human demonstrations", "from", h.Import, "into", h.Dir)
	rep, err := episode.ImportReplayBuffer(ctx, store, h.Import, episode.ImportOptions{}, logProgress(log, "fidelity: importing episodes"))
	if err != nil {
		return fmt.Errorf("%w in %s: importing %s: %w", ErrNoEpisodes, h.Dir, h.Import, err)
	}
	log.Info("fidelity: imported", "episodes", rep.Imported, "steps", rep.Steps, "seconds", rep.Duration.Seconds())
	return nil
}

// Set implements Episodes.
func (h HeldOut) Set(ctx context.Context) (EpisodeSet, error) {
	_, metas, err := h.metas(ctx)
	if err != nil {
		return EpisodeSet{}, err
	}
	if len(metas) == 0 {
		return EpisodeSet{}, fmt.Errorf("%w: no %s in %s: import the human demonstrations first (dreamrank dataset import --data %s)", ErrNoEpisodes, h.name(), h.Dir, h.Dir)
	}
	steps := make(map[string]int, len(metas))
	for _, m := range metas {
		steps[m.ID] = m.Steps
	}
	return EpisodeSet{Name: h.name(), Count: len(metas), Hash: checkpoint.DataHash(steps)}, nil
}

// Load implements Episodes.
func (h HeldOut) Load(ctx context.Context) ([]*episode.Episode, error) {
	store, metas, err := h.metas(ctx)
	if err != nil {
		return nil, err
	}
	if len(metas) == 0 {
		return nil, fmt.Errorf("%w: no %s in %s: import the human demonstrations first (dreamrank dataset import --data %s)", ErrNoEpisodes, h.name(), h.Dir, h.Dir)
	}
	eps := make([]*episode.Episode, 0, len(metas))
	for _, m := range metas {
		e, err := store.Get(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		eps = append(eps, e)
	}
	return eps, nil
}
