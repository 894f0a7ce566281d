package pusht

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// ErrBadReplay reports replay data whose arrays do not fit together.
var ErrBadReplay = errors.New("pusht: inconsistent replay data")

// FrameReader fills dst with recorded frames [start, end) as 96x96x3 RGB
// values in 0..255, row-major, (end-start)*96*96*3 of them. It has the shape
// of zarr's Array.ReadFloat32Rows so a dataset can be streamed.
type FrameReader func(ctx context.Context, start, end int, dst []float32) error

// ReplayData is a recorded PushT dataset in the replay-buffer layout: steps
// of all episodes concatenated, EpisodeEnds the exclusive end of each.
// State[t] is [agent_x, agent_y, block_x, block_y, block_angle] before
// Action[t] (an absolute pusher target) was applied; Frames (optional) gives
// the frame rendered from State[t].
type ReplayData struct {
	EpisodeEnds []int64
	State       [][5]float32
	Action      [][2]float32
	Frames      FrameReader
	// FrameStride compares every FrameStride-th step's frame (0 or 1: all).
	FrameStride int
}

// FidelityReport compares the simulator with recorded episodes. Distances
// are in table pixels, angles in radians wrapped to [-pi, pi]. A statistic
// with nothing to measure is -1 (JSON has no NaN).
type FidelityReport struct {
	// Pusher: from each episode's first state, replay all actions open loop
	// and compare the pusher position with the record after every step.
	AgentReplayMedianPx float64 `json:"agent_replay_median_px"`
	AgentReplayP95Px    float64 `json:"agent_replay_p95_px"`
	// Block: set the recorded state t, apply action t once, compare the
	// block pose with state t+1; only steps where the recorded block moved.
	BlockStepMedianPx  float64 `json:"block_step_median_px"`
	BlockStepP95Px     float64 `json:"block_step_p95_px"`
	BlockStepMedianRad float64 `json:"block_step_median_rad"`
	BlockStepP95Rad    float64 `json:"block_step_p95_rad"`
	// FrameMAE is the mean absolute difference per channel value between our
	// 96x96 render of state t and the recorded frame t (-1 without frames).
	FrameMAE        float64 `json:"frame_mae"`
	FramesCompared  int     `json:"frames_compared"`
	StepsBlockMoved int     `json:"steps_block_moved"`
	Episodes        int     `json:"episodes"`
}

// MeasureFidelity replays every episode of d in the simulator and reports
// how closely it reproduces the record. Episodes run in parallel.
func MeasureFidelity(ctx context.Context, d ReplayData) (FidelityReport, error) {
	if err := d.validate(); err != nil {
		return FidelityReport{}, err
	}
	type result struct {
		agentErr, blockPx, blockRad []float64
		absDiff                     float64
		values, frames              int
	}
	results := make([]result, len(d.EpisodeEnds))
	jobs := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := New(Config{})
			var frameBuf []float32
			for ep := range jobs {
				start, end := d.episode(ep)
				r := &results[ep]
				vel := d.replayAgent(env, start, end, &r.agentErr)
				d.stepBlock(env, start, end, vel, &r.blockPx, &r.blockRad)
				if d.Frames != nil {
					var err error
					r.absDiff, r.values, r.frames, err = d.compareFrames(ctx, env, start, end, &frameBuf)
					if err != nil {
						select {
						case errs <- err:
						default:
						}
						return
					}
				}
			}
		}()
	}
feed:
	for ep := range d.EpisodeEnds {
		select {
		case jobs <- ep:
		case <-ctx.Done():
			break feed
		case err := <-errs:
			errs <- err
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return FidelityReport{}, fmt.Errorf("pusht: measure fidelity: %w", err)
	}
	select {
	case err := <-errs:
		return FidelityReport{}, fmt.Errorf("pusht: measure fidelity: %w", err)
	default:
	}

	var agentErr, blockPx, blockRad []float64
	var absDiff float64
	var values, frames int
	for _, r := range results {
		agentErr = append(agentErr, r.agentErr...)
		blockPx = append(blockPx, r.blockPx...)
		blockRad = append(blockRad, r.blockRad...)
		absDiff += r.absDiff
		values += r.values
		frames += r.frames
	}
	rep := FidelityReport{
		AgentReplayMedianPx: percentile(agentErr, 50),
		AgentReplayP95Px:    percentile(agentErr, 95),
		BlockStepMedianPx:   percentile(blockPx, 50),
		BlockStepP95Px:      percentile(blockPx, 95),
		BlockStepMedianRad:  percentile(blockRad, 50),
		BlockStepP95Rad:     percentile(blockRad, 95),
		FrameMAE:            -1,
		FramesCompared:      frames,
		StepsBlockMoved:     len(blockPx),
		Episodes:            len(d.EpisodeEnds),
	}
	if values > 0 {
		rep.FrameMAE = absDiff / float64(values)
	}
	return rep, nil
}

func (d *ReplayData) validate() error {
	n := len(d.State)
	if len(d.Action) != n {
		return fmt.Errorf("%w: %d states but %d actions", ErrBadReplay, n, len(d.Action))
	}
	if len(d.EpisodeEnds) == 0 {
		return fmt.Errorf("%w: no episodes", ErrBadReplay)
	}
	prev := int64(0)
	for i, e := range d.EpisodeEnds {
		if e <= prev {
			return fmt.Errorf("%w: episode %d ends at %d, after %d", ErrBadReplay, i, e, prev)
		}
		prev = e
	}
	if prev != int64(n) {
		return fmt.Errorf("%w: episodes end at %d but there are %d steps", ErrBadReplay, prev, n)
	}
	return nil
}

func (d *ReplayData) episode(i int) (start, end int) {
	if i > 0 {
		start = int(d.EpisodeEnds[i-1])
	}
	return start, int(d.EpisodeEnds[i])
}

func (d *ReplayData) state(t int) State {
	s := d.State[t]
	return State{
		Agent: Vec2{float64(s[0]), float64(s[1])},
		Block: Pose{float64(s[2]), float64(s[3]), float64(s[4])},
	}
}

func (d *ReplayData) action(t int) Vec2 {
	a := d.Action[t]
	return Vec2{float64(a[0]), float64(a[1])}
}

// replayAgent runs the episode's actions open loop from its first state with
// the pusher at rest (episodes start from a reset), appends the position
// error after each step, and returns the pusher velocity before each step.
func (d *ReplayData) replayAgent(env *Env, start, end int, errs *[]float64) []Vec2 {
	vel := make([]Vec2, end-start)
	env.SetState(d.state(start))
	for t := start; t < end; t++ {
		_, v := env.w.Agent()
		vel[t-start] = Vec2(v)
		if t+1 == end {
			break
		}
		env.Step(d.action(t))
		p, _ := env.w.Agent()
		got := Vec2(p)
		want := d.state(t + 1).Agent
		*errs = append(*errs, math.Hypot(got.X-want.X, got.Y-want.Y))
	}
	return vel
}

// stepBlock predicts each moving step of the block from the recorded state.
// The record has no velocities. The pusher's velocity is a function of the
// earlier actions only (it is kinematic), so we take it from the open-loop
// replay; starting it at rest instead multiplies the typical block error
// by eight (median 1.0 px instead of 0.13 px on the replay dataset), because
// the PD controller then lags the recorded pusher.
func (d *ReplayData) stepBlock(env *Env, start, end int, vel []Vec2, px, rad *[]float64) {
	for t := start; t+1 < end; t++ {
		cur, next := d.state(t), d.state(t+1)
		if cur.Block == next.Block {
			continue
		}
		s := cur
		s.AgentVel = vel[t-start]
		env.SetState(s)
		env.Step(d.action(t))
		got := env.w.BlockPose()
		*px = append(*px, math.Hypot(got.X-next.Block.X, got.Y-next.Block.Y))
		*rad = append(*rad, math.Abs(wrapAngle(got.Angle-next.Block.Angle)))
	}
}

// compareFrames renders the episode's sampled steps and sums absolute
// differences with the recorded frames.
func (d *ReplayData) compareFrames(ctx context.Context, env *Env, start, end int, scratch *[]float32) (sum float64, values, frames int, err error) {
	const frameLen = ObsSize * ObsSize * 3
	n := (end - start) * frameLen
	if cap(*scratch) < n {
		*scratch = make([]float32, n)
	}
	buf := (*scratch)[:n]
	if err := d.Frames(ctx, start, end, buf); err != nil {
		return 0, 0, 0, fmt.Errorf("read frames %d..%d: %w", start, end, err)
	}
	stride := max(d.FrameStride, 1)
	for t := start; t < end; t++ {
		if t%stride != 0 {
			continue
		}
		s := d.state(t)
		img, err := render(&env.canvas, s.Agent, s.Block, ObsSize)
		if err != nil {
			return 0, 0, 0, err
		}
		rec := buf[(t-start)*frameLen : (t-start+1)*frameLen]
		for i, v := range img {
			sum += math.Abs(float64(v) - float64(rec[i]))
		}
		values += frameLen
		frames++
	}
	return sum, values, frames, nil
}

// percentile interpolates linearly between order statistics (NumPy's
// default); -1 for no data.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (pos-float64(lo))*(s[hi]-s[lo])
}
