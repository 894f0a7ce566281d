package fidelity

import (
	"context"
	"fmt"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
)

// ApproachHorizons are the steps before an episode's best moment from
// which Approach imagines it.
var ApproachHorizons = []int{1, 4, 8, 16, 32}

// ApproachRow is the final approach imagined from one horizon.
type ApproachRow struct {
	Horizon  int `json:"horizon"`
	Episodes int `json:"episodes"`
	// Real and Imagined are the mean coverage of the goal read from the
	// real and the imagined frame of the best moment (the same reader on
	// both, so its bias cancels); Deficit is Real - Imagined.
	Real     float64 `json:"real_coverage"`
	Imagined float64 `json:"imagined_coverage"`
	Deficit  float64 `json:"deficit"`
	// Unreadable counts episodes whose imagined frame could not be read.
	Unreadable int `json:"unreadable"`
}

// Approach replays, in m, the last real actions before each episode's
// best moment (its highest true coverage of the goal, from the ground
// truth; episodes without it are skipped) and compares the coverage
// reached. Success is won or lost in these final pushes: a model that
// moves the object a little less than the world falls short exactly
// there, which block errors averaged over whole windows hide. Coverage is
// concave near its peak, so any error lowers the imagined one: a model
// without bias still shows a small deficit, which a copy of the
// simulator started from the same frame (backend oracle) measures.
func Approach(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, progress func(done, total int)) ([]ApproachRow, error) {
	spec := m.Spec()
	if spec.FrameW != spec.FrameH || spec.Channels != 3 {
		return nil, fmt.Errorf("%w: the pose reader wants square RGB frames", ErrBadEpisode)
	}
	rows := make([]ApproachRow, len(ApproachHorizons))
	for j, h := range ApproachHorizons {
		rows[j].Horizon = h
	}
	first := max(spec.ContextLen, 1) - 1
	for i, e := range episodes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sc := sceneOf(e)
		best := bestMoment(e)
		var real pusht.Pose
		ok := best >= 0
		if ok {
			real, ok = sc.read(e.Frames[best], spec.FrameW)
		}
		if ok {
			for j, h := range ApproachHorizons {
				if best-h < first {
					continue
				}
				pred, err := Imagine(ctx, m, e, best-h, h, h)
				if err != nil {
					return nil, fmt.Errorf("episode %s: %w", e.ID, err)
				}
				r := &rows[j]
				r.Episodes++
				img, ok := sc.read(pred[h-1].Frame, spec.FrameW)
				if !ok {
					r.Unreadable++
					continue
				}
				r.Real += sc.coverage(real)
				r.Imagined += sc.coverage(img)
			}
		}
		if progress != nil {
			progress(i+1, len(episodes))
		}
	}
	var out []ApproachRow
	for _, r := range rows {
		if n := r.Episodes - r.Unreadable; n > 0 {
			r.Real, r.Imagined = r.Real/float64(n), r.Imagined/float64(n)
			r.Deficit = r.Real - r.Imagined
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no episode with ground truth long enough for its context", ErrNoWindows)
	}
	return out, nil
}

// bestMoment is the step of an episode's highest true coverage, -1 without
// ground truth.
func bestMoment(e *episode.Episode) int {
	best, bc := -1, -1.0
	for t, g := range e.GroundTruth {
		if t >= len(e.Frames) || len(g) < 5 {
			break
		}
		p, _ := trueBlock(e, t, 0) // from the ground truth: no frame read
		if c := sceneOf(e).coverage(p); c > bc {
			best, bc = t, c
		}
	}
	return best
}
