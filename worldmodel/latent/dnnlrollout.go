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
// into d, as imagine does for the graph.
func (m *Model) fillDnnl(d *dnnlNet, j int, s *episodeState, p [2]float32, a []float32) {
	h, w := m.cfg.FrameH, m.cfg.FrameW
	n := h * w
	at := func(c int) []float32 { return d.x0[(j*inChannels+c)*n:][:n] }
	toPlanes(at(0), at(1), at(2), s.frame, w, 0, 0, h, w)
	for q, pos := range [numPlanes][2]float32{s.hist[0], p, {a[0], a[1]}} {
		plane := at(3 + q)
		clear(plane)
		drawDisc(plane, h, w, 0, 0, pos[0], pos[1], m.cfg)
	}
	gatePlane(d.gate[j*n:][:n], h, w, 0, 0, s.hist[0], p, m.cfg)
}

// predDnnl writes episode j's predicted frame (3 planes, 0..1) into dst:
// the previous frame plus the gated change, as fastNet.output.
func (m *Model) predDnnl(d *dnnlNet, j int, dst []float32) {
	n := m.cfg.FrameH * m.cfg.FrameW
	gate := d.gate[j*n:][:n]
	for c := 0; c < 3; c++ {
		rgb := d.x0[(j*inChannels+c)*n:][:n]
		y := d.y[(j*3+c)*n:][:n]
		o := dst[c*n:][:n]
		for i, v := range y {
			o[i] = rgb[i] + v*gate[i]
		}
	}
}

// readDnnl returns episode j's predicted frame as bytes.
func (m *Model) readDnnl(d *dnnlNet, j int) []uint8 {
	n := m.cfg.FrameH * m.cfg.FrameW
	frame := make([]uint8, 3*n)
	gate := d.gate[j*n:][:n]
	for c := 0; c < 3; c++ {
		rgb := d.x0[(j*inChannels+c)*n:][:n]
		y := d.y[(j*3+c)*n:][:n]
		for i, v := range y {
			frame[3*i+c] = toByte(rgb[i] + v*gate[i])
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
