package fidelity

import (
	"math"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
)

// sample is one prediction measured against reality.
type sample struct {
	psnr, ssim  float64
	agentPx     float64 // NaN: not measurable (proprio without a position)
	blockTried  bool    // a true block pose was known
	blockRead   bool    // and the predicted frame's block was readable
	blockPx     float64
	blockRad    float64
	coverageErr float64
}

// compare measures the prediction pred of real step t of e.
func compare(pred worldmodel.Observation, e *episode.Episode, t int, spec worldmodel.Spec) (sample, error) {
	w, h, c := spec.FrameW, spec.FrameH, spec.Channels
	var s sample
	var err error
	real := e.Frames[t]
	if s.psnr, err = PSNR(real, pred.Frame, w, h, c); err != nil {
		return s, err
	}
	if s.ssim, err = SSIM(real, pred.Frame, w, h, c); err != nil {
		return s, err
	}
	s.agentPx = math.NaN()
	if len(pred.Proprio) >= 2 && len(e.Proprio[t]) >= 2 {
		s.agentPx = math.Hypot(float64(pred.Proprio[0]-e.Proprio[t][0]), float64(pred.Proprio[1]-e.Proprio[t][1]))
	}
	if w != h || c != 3 {
		return s, nil // the pose reader wants square RGB frames
	}
	truth, ok := trueBlock(e, t, w)
	if !ok {
		return s, nil
	}
	s.blockTried = true
	sc := sceneOf(e)
	b, ok := sc.read(pred.Frame, w)
	if !ok {
		return s, nil
	}
	s.blockRead = true
	s.blockPx = math.Hypot(b.X-truth.X, b.Y-truth.Y)
	s.blockRad = math.Abs(math.Remainder(b.Angle-truth.Angle, 2*math.Pi))
	s.coverageErr = math.Abs(sc.coverage(b) - sc.coverage(truth))
	return s, nil
}

// trueBlock is the pushed object's pose at step t: the simulator's ground
// truth when the episode has it, else what the scene's reader sees in the
// real frame.
func trueBlock(e *episode.Episode, t, size int) (pusht.Pose, bool) {
	if t < len(e.GroundTruth) && len(e.GroundTruth[t]) >= 5 {
		g := e.GroundTruth[t]
		return pusht.Pose{X: float64(g[2]), Y: float64(g[3]), Angle: float64(g[4])}, true
	}
	return sceneOf(e).read(e.Frames[t], size)
}

// acc is a running mean.
type acc struct {
	sum float64
	n   int
}

func (a *acc) add(v float64) {
	if !math.IsNaN(v) {
		a.sum += v
		a.n++
	}
}

func (a acc) mean() float64 {
	if a.n == 0 {
		return -1
	}
	return a.sum / float64(a.n)
}

// horizonAcc gathers the samples of one horizon.
type horizonAcc struct {
	psnr, ssim, agent, blockPx, blockRad, coverage acc
	tried, unreadable                              int
}

func (h *horizonAcc) add(s sample) {
	h.psnr.add(s.psnr)
	h.ssim.add(s.ssim)
	h.agent.add(s.agentPx)
	if !s.blockTried {
		return
	}
	h.tried++
	if !s.blockRead {
		h.unreadable++
		return
	}
	h.blockPx.add(s.blockPx)
	h.blockRad.add(s.blockRad)
	h.coverage.add(s.coverageErr)
}

func (h horizonAcc) unreadableRate() float64 {
	if h.tried == 0 {
		return -1
	}
	return float64(h.unreadable) / float64(h.tried)
}

func summarize(a [len(horizons)]horizonAcc) Metrics {
	return Metrics{
		PSNR1: a[0].psnr.mean(), PSNR8: a[1].psnr.mean(), PSNR32: a[2].psnr.mean(),
		SSIM1: a[0].ssim.mean(), SSIM8: a[1].ssim.mean(), SSIM32: a[2].ssim.mean(),
		AgentErrPx1: a[0].agent.mean(), AgentErrPx8: a[1].agent.mean(), AgentErrPx32: a[2].agent.mean(),
		BlockErrPx1: a[0].blockPx.mean(), BlockErrPx8: a[1].blockPx.mean(), BlockErrPx32: a[2].blockPx.mean(),
		BlockErrRad8:      a[1].blockRad.mean(),
		BlockUnreadable8:  a[1].unreadableRate(),
		BlockUnreadable32: a[2].unreadableRate(),
		CoverageErr32:     a[2].coverage.mean(),
	}
}
