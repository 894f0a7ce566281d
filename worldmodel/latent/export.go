package latent

import (
	"fmt"
	"slices"

	"dreamrank/foundation/checkpoint"
)

// Exports for running this network elsewhere (worldmodel/bench's PyTorch
// peer): they read the network, they do not change how it computes.

// Weights returns the network's weight tensors in checkpoint order, by
// name (conv weights [out, in, kh, kw], biases [out]; CHECKPOINT.md and
// convSpecs say how they connect), sharing their data.
func (m *Model) Weights() []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(m.net.params))
	for i, p := range m.net.params {
		out[i] = checkpoint.Tensor{Name: p.name, Shape: slices.Clone(p.shape), Data: p.t.Data().([]float32)}
	}
	return out
}

// ProprioHead returns the linear agent-position head's coefficients
// (CHECKPOINT.md's proprio_head).
func (m *Model) ProprioHead() []float64 { return slices.Clone(m.head[:]) }

// StepInputs is one imagined step's network input for an episode showing
// frame (HWC bytes) with agent positions hist (newest first) given action:
// the frame as CHW floats in 0..1, the agent planes (before, after,
// target; numPlanes x H x W), the change gate (H x W, the same for every
// channel) and the agent's predicted next position.
func (m *Model) StepInputs(frame []uint8, hist [3][2]float32, action []float32) (rgb, planes, gate []float32, next [2]float32, err error) {
	h, w := m.cfg.FrameH, m.cfg.FrameW
	if len(frame) != h*w*3 || len(action) < 2 {
		return nil, nil, nil, next, fmt.Errorf("latent: step inputs: frame of %d bytes, action of %d values", len(frame), len(action))
	}
	next = m.head.predict(hist, action, m.cfg.Table)
	rgb, planes, gate = make([]float32, 3*h*w), make([]float32, numPlanes*h*w), make([]float32, h*w)
	toCHW(rgb, frame, w, 0, 0, h, w)
	fillPlanes(planes, h, w, 0, 0, hist[0], next, action, m.cfg)
	gatePlane(gate, h, w, 0, 0, hist[0], next, m.cfg)
	return rgb, planes, gate, next, nil
}

// PredictNet runs the network alone on one episode's step inputs
// (StepInputs) through the gorgonia graph, the reference every inference
// path is tested against, and returns the predicted frame (3 x H x W, not
// rounded or snapped).
func (m *Model) PredictNet(rgb, planes, gate []float32) ([]float32, error) {
	n := m.cfg.FrameH * m.cfg.FrameW
	if len(rgb) != 3*n || len(planes) != numPlanes*n || len(gate) != n {
		return nil, fmt.Errorf("latent: predict net: inputs of %d, %d and %d values", len(rgb), len(planes), len(gate))
	}
	gs, err := m.acquire(1)
	if err != nil {
		return nil, err
	}
	defer m.release(gs)
	m.running.RLock()
	defer m.running.RUnlock()
	g := gs[0]
	copy(g.rgbT.Data().([]float32), rgb)
	copy(g.planeT.Data().([]float32), planes)
	gd := g.gateT.Data().([]float32)
	for c := 0; c < 3; c++ {
		copy(gd[c*n:(c+1)*n], gate)
	}
	out, err := g.run()
	if err != nil {
		return nil, fmt.Errorf("latent: predict net: %w", err)
	}
	return slices.Clone(out), nil
}
