package latent

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"dreamrank/worldmodel"
)

// maxDnnlBatch is the most episodes one oneDNN forward pass takes; larger
// batches are stepped group by group.
const maxDnnlBatch = 8

// acquireDnnl takes an idle oneDNN forward pass for exactly b episodes
// (or builds one) with the net's current weights.
func (m *Model) acquireDnnl(b int) (*dnnlNet, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, fmt.Errorf("latent: oneDNN forward pass: model closed: %w", worldmodel.ErrClosed)
	}
	var d *dnnlNet
	if idle := m.dnnl[b]; len(idle) > 0 {
		d, m.dnnl[b] = idle[len(idle)-1], idle[:len(idle)-1]
	}
	m.mu.Unlock()
	if d == nil {
		return newDnnlNet(m.net, b)
	}
	if err := d.sync(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (m *Model) releaseDnnl(d *dnnlNet) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		d.Close()
		return
	}
	if m.dnnl == nil {
		m.dnnl = map[int][]*dnnlNet{}
	}
	m.dnnl[d.batch] = append(m.dnnl[d.batch], d)
}

// stepDnnl is Step on the oneDNN forward pass: every imagined step of the
// chunk is one forward pass over a group of up to maxDnnlBatch episodes.
func (m *Model) stepDnnl(ctx context.Context, eps []*episodeState, actions [][][]float32, chunk int) ([][]worldmodel.Observation, error) {
	out := make([][]worldmodel.Observation, len(eps))
	for i := range out {
		out[i] = make([]worldmodel.Observation, chunk)
	}
	// Every group's pass first, so that a failure to build one leaves
	// every episode unstepped (the default mode then steps them on the
	// fast pass instead).
	var nets []*dnnlNet
	defer func() {
		for _, d := range nets {
			m.releaseDnnl(d)
		}
	}()
	for g0 := 0; g0 < len(eps); g0 += maxDnnlBatch {
		d, err := m.acquireDnnl(min(len(eps), g0+maxDnnlBatch) - g0)
		if err != nil {
			return nil, &dnnlUnavailable{err}
		}
		nets = append(nets, d)
	}
	for i, d := range nets {
		g0 := i * maxDnnlBatch
		g1 := g0 + d.batch
		if err := m.stepGroup(ctx, d, eps[g0:g1], actions[g0:g1], out[g0:g1], chunk); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dnnlUnavailable is a Step that stepped nothing because a oneDNN pass
// could not be had.
type dnnlUnavailable struct{ err error }

func (e *dnnlUnavailable) Error() string { return e.err.Error() }
func (e *dnnlUnavailable) Unwrap() error { return e.err }

// stepGroup steps one group of episodes through the chunk on d.
func (m *Model) stepGroup(ctx context.Context, d *dnnlNet, eps []*episodeState, actions [][][]float32, out [][]worldmodel.Observation, chunk int) error {
	next := make([][2]float32, len(eps))
	for k := 0; k < chunk; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		parallel(len(eps), func(j int) {
			s, a := eps[j], actions[j][k]
			next[j] = m.head.predict(s.hist, a, m.cfg.Table)
			m.fillDnnl(d, j, s, next[j], a)
		})
		if err := d.forward(); err != nil {
			return fmt.Errorf("latent: predict: %w", err)
		}
		parallel(len(eps), func(j int) {
			s, p := eps[j], next[j]
			frame := m.readDnnl(d, j)
			if m.cfg.Snap > 0 {
				snapBlock(frame, s.frame, m.cfg.FrameW, m.cfg.Snap, p, m.cfg)
			}
			s.frame = frame
			s.hist = [3][2]float32{p, s.hist[0], s.hist[1]}
			out[j][k] = worldmodel.Observation{Frame: slices.Clone(frame), Proprio: []float32{p[0], p[1]}}
		})
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
	for i := 0; i < n; i++ {
		px := x[i*inChannels:][:inChannels]
		px[0] = float32(s.frame[3*i]) / 255
		px[1] = float32(s.frame[3*i+1]) / 255
		px[2] = float32(s.frame[3*i+2]) / 255
		px[3], px[4], px[5] = disc[i], disc[n+i], disc[2*n+i]
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
		for c := 0; c < 3; c++ {
			frame[3*i+c] = toByte(x[i*inChannels+c] + y[3*i+c]*g)
		}
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
