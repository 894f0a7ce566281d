package fidelity

import (
	"fmt"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel"
)

// Horizon is the length of every window in actions; the reported horizons
// are 1, 8 and Horizon.
const Horizon = 32

// horizons are the prediction steps compared with reality (1-based: after
// that many actions).
var horizons = [3]int{1, 8, Horizon}

// Config tunes Evaluate; zero values take the defaults.
type Config struct {
	Stride int // steps between window starts (16)
	Chunk  int // actions per Rollout.Step call (8)
	Batch  int // windows imagined at once (16)
	// MaxWindows keeps only the first MaxWindows windows (0: all), for
	// quick checks.
	MaxWindows int
}

func (c Config) withDefaults() Config {
	if c.Stride <= 0 {
		c.Stride = 16
	}
	if c.Chunk <= 0 {
		c.Chunk = 8
	}
	if c.Batch <= 0 {
		c.Batch = 16
	}
	return c
}

// Window is one evaluation: episode Episode from step Start.
type Window struct {
	Episode int `json:"episode"`
	Start   int `json:"start"`
}

// Windows lists the evaluation windows of episodes for a model of this
// spec, checking that every episode fits the spec. Starts are
// ContextLen-1, +Stride, ... while Start+Horizon is a step of the episode,
// so each window has a full context.
func Windows(episodes []*episode.Episode, spec worldmodel.Spec, cfg Config) ([]Window, error) {
	cfg = cfg.withDefaults()
	first := max(spec.ContextLen, 1) - 1
	var out []Window
	for i, e := range episodes {
		if err := fits(e, spec); err != nil {
			return nil, fmt.Errorf("episode %d (%s): %w", i, e.ID, err)
		}
		for s := first; s+Horizon < len(e.Frames); s += cfg.Stride {
			if cfg.MaxWindows > 0 && len(out) == cfg.MaxWindows {
				return out, nil
			}
			out = append(out, Window{Episode: i, Start: s})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %d episodes, none longer than %d steps", ErrNoWindows, len(episodes), first+Horizon)
	}
	return out, nil
}

func fits(e *episode.Episode, spec worldmodel.Spec) error {
	if e == nil {
		return fmt.Errorf("%w: nil episode", ErrBadEpisode)
	}
	n := len(e.Frames)
	if len(e.Proprio) != n || len(e.Actions) != n {
		return fmt.Errorf("%w: %d frames, %d proprio rows, %d actions", ErrBadEpisode, n, len(e.Proprio), len(e.Actions))
	}
	for t := 0; t < n; t++ {
		if len(e.Frames[t]) != spec.FrameLen() {
			return fmt.Errorf("%w: step %d frame of %d bytes, model wants %d", ErrBadEpisode, t, len(e.Frames[t]), spec.FrameLen())
		}
		if len(e.Proprio[t]) != spec.ProprioDim || len(e.Actions[t]) != spec.ActionDim {
			return fmt.Errorf("%w: step %d proprio %d / action %d values, model wants %d / %d",
				ErrBadEpisode, t, len(e.Proprio[t]), len(e.Actions[t]), spec.ProprioDim, spec.ActionDim)
		}
	}
	return nil
}

// context is the window's real observations ending at its start.
func (w Window) context(e *episode.Episode, spec worldmodel.Spec) []worldmodel.Observation {
	from := max(0, w.Start-max(spec.ContextLen, 1)+1)
	ctx := make([]worldmodel.Observation, 0, w.Start-from+1)
	for t := from; t <= w.Start; t++ {
		ctx = append(ctx, worldmodel.Observation{Frame: e.Frames[t], Proprio: e.Proprio[t]})
	}
	return ctx
}
