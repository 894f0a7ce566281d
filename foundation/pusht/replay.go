package pusht

import (
	"context"
	"fmt"

	"dreamrank/foundation/zarr"
)

// LoadReplayData opens a Diffusion-Policy PushT replay buffer (zarr v2) and
// reads its states, actions and episode ends; frames stay on disk and are
// streamed by MeasureFidelity.
func LoadReplayData(ctx context.Context, path string) (ReplayData, error) {
	g, err := zarr.OpenGroup(path)
	if err != nil {
		return ReplayData{}, fmt.Errorf("open replay buffer: %w", err)
	}
	arrays := map[string]*zarr.Array{}
	for _, name := range []string{"data/state", "data/action", "meta/episode_ends", "data/img"} {
		a, err := g.Array(name)
		if err != nil {
			return ReplayData{}, fmt.Errorf("replay buffer %s: %w", path, err)
		}
		arrays[name] = a
	}
	if sh := arrays["data/img"].Shape(); len(sh) != 4 || sh[1] != ObsSize || sh[2] != ObsSize || sh[3] != 3 {
		return ReplayData{}, fmt.Errorf("%w: data/img shape %v, want (N,%d,%d,3)", ErrBadReplay, sh, ObsSize, ObsSize)
	}
	states, err := arrays["data/state"].Float32s(ctx)
	if err != nil {
		return ReplayData{}, fmt.Errorf("read data/state: %w", err)
	}
	actions, err := arrays["data/action"].Float32s(ctx)
	if err != nil {
		return ReplayData{}, fmt.Errorf("read data/action: %w", err)
	}
	ends, err := arrays["meta/episode_ends"].Int64s(ctx)
	if err != nil {
		return ReplayData{}, fmt.Errorf("read meta/episode_ends: %w", err)
	}
	if len(states)%5 != 0 || len(actions)%2 != 0 {
		return ReplayData{}, fmt.Errorf("%w: state has %d values, action %d", ErrBadReplay, len(states), len(actions))
	}
	d := ReplayData{
		EpisodeEnds: ends,
		State:       make([][5]float32, len(states)/5),
		Action:      make([][2]float32, len(actions)/2),
		Frames:      arrays["data/img"].ReadFloat32Rows,
	}
	for i := range d.State {
		copy(d.State[i][:], states[i*5:])
	}
	for i := range d.Action {
		copy(d.Action[i][:], actions[i*2:])
	}
	return d, nil
}
