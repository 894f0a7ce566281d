// Package experttest fills episode stores for tests: expert episodes
// played in the PushT simulator, stored as the fleet coordinator stores
// robot logs (source "fleet", with provenance).
package experttest

import (
	"context"
	"slices"
	"testing"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/policy/expert"
)

// FleetEpisodes plays expert episodes of quality on seeds (40 steps at
// most), stores them in store as fleet episodes of robot "sim-1", and gives
// the first wantHeldOut of them ids that heldOut accepts and the rest ids
// it rejects. It returns the sorted training and held-out ids.
func FleetEpisodes(t testing.TB, store *episode.Store, seeds []int64, quality, wantHeldOut int, heldOut func(episode.Meta) bool) (train, held []string) {
	t.Helper()
	ctx := context.Background()
	scratch, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := expert.Generate(ctx, scratch, seeds, expert.Options{Quality: quality, MaxSteps: 40}, 2, episode.PutOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range rep.IDs {
		e, err := scratch.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := i < wantHeldOut
		e.Source, e.RobotID, e.Policy, e.Scenario = "fleet", "sim-1", "expert", "pusht"
		for e.ID = episode.NewID(); heldOut(e.Meta) != want; e.ID = episode.NewID() {
		}
		e.Provenance = &episode.Provenance{Assignment: e.ID, Embodiment: "pusht-sim", Started: e.Created, Finished: e.Created, Received: time.Now().UTC()}
		if err := store.Put(ctx, e, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if want {
			held = append(held, e.ID)
		} else {
			train = append(train, e.ID)
		}
	}
	slices.Sort(train)
	slices.Sort(held)
	return train, held
}
