package latent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/dnnl"

	"dreamrank/worldmodel"
)

// maxDnnlBatch is the most episodes one oneDNN forward pass takes. Each
// pass runs on one core (foundation/dnnl), so a batch is cut into at
// least as many groups as there are runners, stepped concurrently, and
// into groups of at most this many episodes: a pass runs layer by layer
// over its whole group, and small groups keep their activations in the
// core's caches from one layer to the next. Measured (BenchmarkDnnlForward,
// busy machine, two runs), CPU ms per frame of the network alone for
// groups of 1: 1.36-1.46, 2: 1.23, 4: 1.29-1.31, 8: 1.35-1.59.
const maxDnnlBatch = 2

// dnnlGroups cuts n episodes into groups for runners concurrent passes:
// as even as possible, at least runners groups (when n allows), none
// larger than maxDnnlBatch. It returns each group's first episode, and n.
func dnnlGroups(n, runners int) []int {
	g := max(min(n, runners), (n+maxDnnlBatch-1)/maxDnnlBatch)
	bounds := make([]int, g+1)
	for i := range bounds {
		bounds[i] = i * n / g
	}
	return bounds
}

// acquireDnnl takes an idle oneDNN forward pass for exactly b episodes
// (or builds one) with the net's current weights.
func (m *Model) acquireDnnl(b int) (*dnnlNet, error) {
	d, ok, err := m.dnnl.Get(b)
	if err != nil {
		return nil, fmt.Errorf("latent: oneDNN forward pass: model closed: %w", worldmodel.ErrClosed)
	}
	if !ok {
		return newDnnlNet(m.net, b)
	}
	if err := d.sync(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (m *Model) releaseDnnl(d *dnnlNet) { m.dnnl.Put(d.batch, d) }

// stepDnnl is Step on the oneDNN forward pass: the episodes are cut into
// groups (dnnlGroups), and every imagined step of the chunk is one
// forward pass per group; groups are stepped concurrently, each through
// the whole chunk, on dnnl.Runners goroutines.
func (m *Model) stepDnnl(ctx context.Context, eps []*episodeState, actions [][][]float32, chunk int) ([][]worldmodel.Observation, error) {
	out := make([][]worldmodel.Observation, len(eps))
	for i := range out {
		out[i] = make([]worldmodel.Observation, chunk)
	}
	runners := dnnl.Runners()
	bounds := dnnlGroups(len(eps), runners)
	// Every group's pass first, so that a failure to build one leaves
	// every episode unstepped (the default mode then steps them on the
	// fast pass instead).
	nets := make([]*dnnlNet, 0, len(bounds)-1)
	defer func() {
		for _, d := range nets {
			m.releaseDnnl(d)
		}
	}()
	for i := 0; i+1 < len(bounds); i++ {
		d, err := m.acquireDnnl(bounds[i+1] - bounds[i])
		if err != nil {
			return nil, &dnnlUnavailable{err}
		}
		nets = append(nets, d)
	}
	errs := make([]error, len(nets))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runners, len(nets)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(nets); i = int(next.Add(1)) - 1 {
				g0, g1 := bounds[i], bounds[i+1]
				errs[i] = m.stepGroup(ctx, nets[i], eps[g0:g1], actions[g0:g1], out[g0:g1], chunk)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// dnnlUnavailable is a Step that stepped nothing because a oneDNN pass
// could not be had.
type dnnlUnavailable struct{ err error }

func (e *dnnlUnavailable) Error() string { return e.err.Error() }
func (e *dnnlUnavailable) Unwrap() error { return e.err }

// stepGroup steps one group of episodes through the chunk on d (its Go
// work on the calling goroutine: other groups use the other cores).
func (m *Model) stepGroup(ctx context.Context, d *dnnlNet, eps []*episodeState, actions [][][]float32, out [][]worldmodel.Observation, chunk int) error {
	next := make([][2]float32, len(eps))
	for k := 0; k < chunk; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		for j, s := range eps {
			a := actions[j][k]
			next[j] = m.head.predict(s.hist, a, m.cfg.Table)
			m.fillDnnl(d, j, s, next[j], a)
		}
		if err := d.forward(); err != nil {
			return fmt.Errorf("latent: predict: %w", err)
		}
		for j, s := range eps {
			p := next[j]
			frame := m.readDnnl(d, j)
			if m.cfg.Snap > 0 {
				snapBlock(frame, s.frame, m.cfg.FrameW, m.cfg.Snap, p, m.cfg)
			}
			s.frame = frame
			s.hist = [3][2]float32{p, s.hist[0], s.hist[1]}
			out[j][k] = worldmodel.Observation{Frame: slices.Clone(frame), Proprio: []float32{p[0], p[1]}}
		}
	}
	return nil
}

// fillDnnl writes episode j's network input (frame, agent planes, gate)
// into d, as imagine does for the graph, channels last.
func (m *Model) fillDnnl(d *dnnlNet, j int, s *episodeState, p [2]float32, a []float32) {
	h, w := m.cfg.FrameH, m.cfg.FrameW
	n := h * w
	disc := d.disc[j*numPlanes*n:][:numPlanes*n]
	fillPlanes(disc, h, w, 0, 0, s.hist[0], p, a, m.cfg)
	x := d.x0[j*n*inChannels:][:n*inChannels]
	d0, d1, d2 := disc[:n], disc[n:2*n], disc[2*n:3*n]
	src := s.frame[:3*n]
	for i := range d0 {
		px := x[i*inChannels:][:inChannels]
		rgb := src[3*i:][:3]
		px[0], px[1], px[2] = byteUnit[rgb[0]], byteUnit[rgb[1]], byteUnit[rgb[2]]
		px[3], px[4], px[5] = d0[i], d1[i], d2[i]
	}
	gatePlane(d.gate[j*n:][:n], h, w, 0, 0, s.hist[0], p, m.cfg)
}

// predDnnl writes episode j's predicted frame (0..1, channels last) into
// dst: the previous frame plus the gated change, as fastNet.output.
func (m *Model) predDnnl(d *dnnlNet, j int, dst []float32) {
	n := m.cfg.FrameH * m.cfg.FrameW
	gate := d.gate[j*n:][:n]
	x, y := d.x0[j*n*inChannels:], d.y[j*n*3:]
	for i, g := range gate {
		for c := 0; c < 3; c++ {
			dst[3*i+c] = x[i*inChannels+c] + y[3*i+c]*g
		}
	}
}

// readDnnl returns episode j's predicted frame as bytes.
func (m *Model) readDnnl(d *dnnlNet, j int) []uint8 {
	n := m.cfg.FrameH * m.cfg.FrameW
	frame := make([]uint8, 3*n)
	gate := d.gate[j*n:][:n]
	x, y := d.x0[j*n*inChannels:], d.y[j*n*3:]
	for i, g := range gate {
		xi, yi, fi := x[i*inChannels:][:3], y[3*i:][:3], frame[3*i:][:3]
		fi[0] = toByte(xi[0] + yi[0]*g)
		fi[1] = toByte(xi[1] + yi[1]*g)
		fi[2] = toByte(xi[2] + yi[2]*g)
	}
	return frame
}

// stepAuto is Step in the default mode: on oneDNN, or on the fast pass
// when oneDNN could not build the network (recorded for Describe, and
// for good) or the model was closed.
func (m *Model) stepAuto(ctx context.Context, eps []*episodeState, actions [][][]float32, chunk int) ([][]worldmodel.Observation, error) {
	if m.dnnlErr.Load() == nil {
		out, err := m.stepDnnl(ctx, eps, actions, chunk)
		var un *dnnlUnavailable
		if !errors.As(err, &un) {
			return out, err
		}
		if !errors.Is(err, worldmodel.ErrClosed) {
			m.dnnlErr.CompareAndSwap(nil, &un.err)
		}
	}
	return m.stepFast(ctx, eps, actions, chunk)
}
