package fidelity

import (
	"context"
	"fmt"
	"math"
	"sync"

	"dreamrank/foundation/episode"
	"dreamrank/worldmodel"
)

// LongHorizonSteps are the horizons LongHorizon reports (steps after the
// start), up to PushT's 300-step episode.
var LongHorizonSteps = []int{1, 8, 32, 64, 128, 200, 299}

// LongHorizonRow is the block-pose error at one horizon over the episodes
// that last that long: the model's imagined frame, and the "block never
// moves" baseline (the block where it was at the start), both against the
// real block pose (trueBlock), in table px and radians.
type LongHorizonRow struct {
	Horizon  int `json:"horizon"`
	Episodes int `json:"episodes"`
	// Unreadable is the share of the model's frames at this horizon whose
	// block the pose reader could not read (they are not in the means).
	Unreadable  float64 `json:"unreadable"`
	BlockPx     float64 `json:"block_err_px"`
	BlockRad    float64 `json:"block_err_rad"`
	BasePx      float64 `json:"baseline_block_err_px"`
	BaseRad     float64 `json:"baseline_block_err_rad"`
	CoverageErr float64 `json:"coverage_err"`
}

// LongHorizonReport is LongHorizon's result.
type LongHorizonReport struct {
	Episodes int              `json:"episodes"`
	Rows     []LongHorizonRow `json:"rows"`
	// Final compares every episode's last imagined frame with its last real
	// one, whatever its length; Steps is the mean length imagined.
	Final LongHorizonRow `json:"final"`
	Steps float64        `json:"mean_steps"`
	// AllSteps averages over every imagined step of every episode.
	AllSteps LongHorizonRow `json:"all_steps"`
}

// LongHorizon imagines each episode open loop under its recorded actions
// from its first full context to its end (at most maxSteps steps) and
// measures the block pose read from the imagined frames against the real
// pose, beside the baseline that the block never moves. It answers whether
// a model stays usable over the horizon the ranking benchmark rolls out.
func LongHorizon(ctx context.Context, m worldmodel.Model, episodes []*episode.Episode, maxSteps int, progress func(done, total int)) (LongHorizonReport, error) {
	spec := m.Spec()
	if spec.FrameW != spec.FrameH || spec.Channels != 3 {
		return LongHorizonReport{}, fmt.Errorf("%w: the pose reader wants square RGB frames", ErrBadEpisode)
	}
	start := max(spec.ContextLen, 1) - 1
	type result struct {
		rows  []LongHorizonRow // per step
		steps int
	}
	results := make([]result, len(episodes))
	var (
		mu    sync.Mutex
		done  int
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				e := episodes[i]
				steps := min(maxSteps, len(e.Frames)-1-start)
				if steps < 1 {
					continue
				}
				pred, err := Imagine(ctx, m, e, start, steps, 8)
				if err == nil {
					results[i] = result{rows: measureTrack(pred, e, start, spec.FrameW), steps: steps}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("episode %s: %w", e.ID, err)
				}
				done++
				if progress != nil {
					progress(done, len(episodes))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range episodes {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return LongHorizonReport{}, first
	}
	if err := ctx.Err(); err != nil {
		return LongHorizonReport{}, err
	}
	rep := LongHorizonReport{}
	var final, all rowAcc
	var total float64
	by := make([]rowAcc, len(LongHorizonSteps))
	for _, r := range results {
		if r.steps == 0 {
			continue
		}
		rep.Episodes++
		total += float64(r.steps)
		final.add(r.rows[r.steps-1])
		for _, row := range r.rows {
			all.add(row)
		}
		for j, h := range LongHorizonSteps {
			if h <= r.steps {
				by[j].add(r.rows[h-1])
			}
		}
	}
	if rep.Episodes == 0 {
		return rep, fmt.Errorf("%w: no episode longer than its context", ErrNoWindows)
	}
	rep.Steps = total / float64(rep.Episodes)
	for j, h := range LongHorizonSteps {
		if by[j].n > 0 {
			rep.Rows = append(rep.Rows, by[j].row(h))
		}
	}
	rep.Final, rep.AllSteps = final.row(0), all.row(0)
	return rep, nil
}

// measureTrack compares each imagined step k (real frame start+k+1) with
// reality; a row's Episodes is 1 when the truth is known, Unreadable 1 when
// the imagined block could not be read (errors NaN then).
func measureTrack(pred []worldmodel.Observation, e *episode.Episode, start, size int) []LongHorizonRow {
	base, baseOK := trueBlock(e, start, size)
	rows := make([]LongHorizonRow, len(pred))
	for k, o := range pred {
		r := LongHorizonRow{Horizon: k + 1, BlockPx: math.NaN(), BlockRad: math.NaN(), BasePx: math.NaN(), BaseRad: math.NaN(), CoverageErr: math.NaN()}
		truth, ok := trueBlock(e, start+k+1, size)
		if ok {
			r.Episodes = 1
			if baseOK {
				r.BasePx = math.Hypot(base.X-truth.X, base.Y-truth.Y)
				r.BaseRad = math.Abs(math.Remainder(base.Angle-truth.Angle, 2*math.Pi))
			}
			sc := sceneOf(e)
			if b, read := sc.read(o.Frame, size); read {
				r.BlockPx = math.Hypot(b.X-truth.X, b.Y-truth.Y)
				r.BlockRad = math.Abs(math.Remainder(b.Angle-truth.Angle, 2*math.Pi))
				r.CoverageErr = math.Abs(sc.coverage(b) - sc.coverage(truth))
			} else {
				r.Unreadable = 1
			}
		}
		rows[k] = r
	}
	return rows
}

// rowAcc averages rows.
type rowAcc struct {
	n                       int
	unread                  float64
	px, rad, bpx, brad, cov acc
}

func (a *rowAcc) add(r LongHorizonRow) {
	if r.Episodes == 0 {
		return
	}
	a.n++
	a.unread += r.Unreadable
	a.px.add(r.BlockPx)
	a.rad.add(r.BlockRad)
	a.bpx.add(r.BasePx)
	a.brad.add(r.BaseRad)
	a.cov.add(r.CoverageErr)
}

func (a rowAcc) row(h int) LongHorizonRow {
	return LongHorizonRow{Horizon: h, Episodes: a.n, Unreadable: a.unread / float64(max(a.n, 1)),
		BlockPx: a.px.mean(), BlockRad: a.rad.mean(), BasePx: a.bpx.mean(), BaseRad: a.brad.mean(), CoverageErr: a.cov.mean()}
}
