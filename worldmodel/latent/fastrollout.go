package latent

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"

	"dreamrank/foundation/openblas"
	"dreamrank/worldmodel"
)

// maxFastBatch is the most episodes one fast forward pass takes; larger
// batches are stepped in groups of this size, one group after the other.
// Small groups win because a pass runs layer by layer over its whole
// group: two episodes' activations (4.4 MB at 96x96) stay in the caches
// from one layer to the next, 16 episodes' (35 MB) stream through L3 and
// memory. Measured at batch 16 on the shared machine (two runs), CPU time
// per imagined frame: groups of 1 episode 2.8-3.1 ms, 2: 2.6-3.5 ms, 4:
// 2.8-3.7 ms, 8: 3.4-3.6 ms, 16: 3.8-3.9 ms; bench wm's frames/s at
// batches 8 and 32 favoured groups of 2 or 4 over 32 by about a third.
// The gemms do not shrink with the group: a tile (256 KiB of columns) is
// at most a few rows of one image anyway.
const maxFastBatch = 2

// acquireFast takes an idle fast forward pass (or makes one) able to hold
// b episodes.
func (m *Model) acquireFast(b int) *fastNet {
	m.mu.Lock()
	var f *fastNet
	if n := len(m.fast); n > 0 {
		f, m.fast = m.fast[n-1], m.fast[:n-1]
	}
	m.mu.Unlock()
	if f == nil {
		return newFastNet(m.net, b)
	}
	f.grow(b)
	return f
}

func (m *Model) releaseFast(f *fastNet) {
	m.mu.Lock()
	m.fast = append(m.fast, f)
	m.mu.Unlock()
}

// stepFast is Step on the fast forward pass: every imagined step of the
// chunk is one batched forward pass over (a group of) the episodes.
func (m *Model) stepFast(ctx context.Context, eps []*episodeState, actions [][][]float32, chunk int) ([][]worldmodel.Observation, error) {
	out := make([][]worldmodel.Observation, len(eps))
	for i := range out {
		out[i] = make([]worldmodel.Observation, chunk)
	}
	f := m.acquireFast(min(len(eps), maxFastBatch))
	defer m.releaseFast(f)
	// The forward pass spreads its gemms over the cores itself.
	defer openblas.Serial()()
	for g0 := 0; g0 < len(eps); g0 += maxFastBatch {
		g1 := min(len(eps), g0+maxFastBatch)
		f.setBatch(g1 - g0)
		for k := 0; k < chunk; k++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			next := make([][2]float32, g1-g0)
			parallel(g1-g0, func(j int) {
				s, a := eps[g0+j], actions[g0+j][k]
				next[j] = m.head.predict(s.hist, a, m.cfg.Table)
				m.fillFast(f, j, s, next[j], a)
			})
			if err := f.forward(); err != nil {
				return nil, fmt.Errorf("latent: predict: %w", err)
			}
			parallel(g1-g0, func(j int) {
				s, p := eps[g0+j], next[j]
				frame := m.readFast(f, j)
				if m.cfg.Snap > 0 {
					snapBlock(frame, s.frame, m.cfg.FrameW, m.cfg.Snap, p, m.cfg)
				}
				s.frame = frame
				s.hist = [3][2]float32{p, s.hist[0], s.hist[1]}
				out[g0+j][k] = worldmodel.Observation{Frame: slices.Clone(frame), Proprio: []float32{p[0], p[1]}}
			})
		}
	}
	return out, nil
}

// fillFast writes episode j's network input (frame, agent planes, gate)
// into f, as imagine does for the graph.
func (m *Model) fillFast(f *fastNet, j int, s *episodeState, p [2]float32, a []float32) {
	h, w := m.cfg.FrameH, m.cfg.FrameW
	n := h * w
	x0 := m.cfg.C1
	at := func(c int) []float32 { return f.cat0.channel(x0 + c)[j*n:][:n] }
	toPlanes(at(0), at(1), at(2), s.frame, w, 0, 0, h, w)
	for q, pos := range [numPlanes][2]float32{s.hist[0], p, {a[0], a[1]}} {
		plane := at(3 + q)
		clear(plane)
		drawDisc(plane, h, w, 0, 0, pos[0], pos[1], m.cfg)
	}
	gatePlane(f.gate[j*n:][:n], h, w, 0, 0, s.hist[0], p, m.cfg)
}

// readFast returns episode j's predicted frame as bytes.
func (m *Model) readFast(f *fastNet, j int) []uint8 {
	n := m.cfg.FrameH * m.cfg.FrameW
	frame := make([]uint8, 3*n)
	at := func(c int) []float32 { return f.pred.channel(c)[j*n:][:n] }
	fromPlanes(frame, at(0), at(1), at(2))
	return frame
}

// parallel runs do(0..n-1) on up to GOMAXPROCS goroutines (contiguous
// ranges; each index once).
func parallel(n int, do func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			do(i)
		}
		return
	}
	var wg sync.WaitGroup
	for wk := 0; wk < workers; wk++ {
		i0, i1 := wk*n/workers, (wk+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := i0; i < i1; i++ {
				do(i)
			}
		}()
	}
	wg.Wait()
}
