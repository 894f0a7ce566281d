package flow

import (
	"fmt"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"dreamrank/foundation/nn"
)

// newParams makes the policy's parameters, randomly initialised from seed.
func newParams(c ModelConfig, seed uint64) *nn.Params {
	rng := rand.New(rand.NewPCG(seed, 0x666c6f77))
	ps := &nn.Params{}
	if !c.pose() {
		ps.AddConv(rng, "enc1", 3, c.C1, 3)
		ps.AddConv(rng, "enc2", c.C1, c.C2, 3)
		ps.AddConv(rng, "enc3", c.C2, c.C3, 3)
	}
	if c.AuxPose && !c.pose() {
		ps.AddLinear(rng, "aux", 2*c.C3, auxDim, 1)
	}
	in := c.chunkDim() + c.TimeDim + c.obsDim() + c.ctxDim()
	ps.AddLinear(rng, "in", in, c.Hidden, 1)
	for l := 1; l < c.Layers; l++ {
		ps.AddLinear(rng, fmt.Sprintf("h%d", l), c.Hidden, c.Hidden, 0.5)
	}
	ps.AddLinear(rng, "out", c.Hidden, c.chunkDim(), 0.5)
	return ps
}

// keypointGrid is the (h*w, 2) matrix of pixel coordinates in [-1, 1] that
// turns a spatial softmax into expected keypoint positions.
func keypointGrid(g *G.ExprGraph, h, w int) *G.Node {
	d := make([]float32, h*w*2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d[2*(y*w+x)] = float32(2*(float64(x)+0.5)/float64(w) - 1)
			d[2*(y*w+x)+1] = float32(2*(float64(y)+0.5)/float64(h) - 1)
		}
	}
	t := tensor.New(tensor.WithShape(h*w, 2), tensor.WithBacking(d))
	return G.NewMatrix(g, tensor.Float32, G.WithShape(h*w, 2), G.WithName("grid"), G.WithValue(t))
}

// auxDim is the auxiliary pose head's output: x, y, sin, cos.
const auxDim = 4

// encode maps pooled frames (B, 3, h, w) and normalised proprio (B, P) to
// the observation feature (B, 2*C3 + P): the expected image position of
// each of C3 learned keypoints (a spatial softmax), then the proprio.
func encode(b *nn.Bound, c ModelConfig, img, proprio *G.Node) (*G.Node, error) {
	kp, err := keypoints(b, c, img)
	if err != nil {
		return nil, err
	}
	obs, err := G.Concat(1, kp, proprio)
	if err != nil {
		return nil, fmt.Errorf("flow: keypoints: %w", err)
	}
	return obs, nil
}

// keypoints is the encoder without the proprio: (B, 2*C3).
func keypoints(b *nn.Bound, c ModelConfig, img *G.Node) (*G.Node, error) {
	batch := img.Shape()[0]
	x, err := b.Conv("enc1", img, 1)
	if err == nil {
		x, err = G.Rectify(x)
	}
	if err == nil {
		x, err = b.Conv("enc2", x, 2)
	}
	if err == nil {
		x, err = G.Rectify(x)
	}
	if err == nil {
		x, err = b.Conv("enc3", x, 1)
	}
	if err != nil {
		return nil, fmt.Errorf("flow: encoder: %w", err)
	}
	h, w := c.inH()/2, c.inW()/2
	x, err = G.Reshape(x, tensor.Shape{batch * c.C3, h * w})
	if err == nil {
		x, err = G.SoftMax(x)
	}
	if err == nil {
		x, err = G.Mul(x, keypointGrid(b.G, h, w))
	}
	if err == nil {
		x, err = G.Reshape(x, tensor.Shape{batch, 2 * c.C3})
	}
	if err != nil {
		return nil, fmt.Errorf("flow: keypoints: %w", err)
	}
	return x, nil
}

// velocity is the flow head: from the noisy chunk x_t (B, H*D), the time
// embedding, the observation feature and the context vector to the
// predicted velocity (B, H*D). Hidden layers are residual. extra, when not
// nil, is added to the first layer's pre-activation (B, Hidden): the hook
// through which a privileged teacher sees more than the policy does (see
// Head).
func velocity(b *nn.Bound, c ModelConfig, xt, temb, obs, ctx, extra *G.Node) (*G.Node, error) {
	x, err := G.Concat(1, xt, temb, obs, ctx)
	if err != nil {
		return nil, err
	}
	h, err := b.Linear("in", x)
	if err == nil && extra != nil {
		h, err = G.Add(h, extra)
	}
	if err == nil {
		h, err = nn.SiLU(h)
	}
	for l := 1; l < c.Layers && err == nil; l++ {
		var r *G.Node
		r, err = b.Linear(fmt.Sprintf("h%d", l), h)
		if err == nil {
			r, err = nn.SiLU(r)
		}
		if err == nil {
			h, err = G.Add(h, r)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("flow: head: %w", err)
	}
	return b.Linear("out", h)
}
