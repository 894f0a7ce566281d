package latent

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Input planes of every step, besides the previous frame's RGB: discs the
// size of the agent at its position before the step, at its (predicted)
// position after the step, and at the action's target.
const numPlanes = 3

// inChannels is the channel count of the network's input.
const inChannels = 3 + numPlanes

// param is one weight tensor of the network.
type param struct {
	name  string
	shape []int
	t     *tensor.Dense
}

// convSpec is one convolution of the network.
type convSpec struct {
	name            string
	in, out, k, str int
	zero            bool // zero-initialised (the output layer: start as identity)
}

// net is the network's parameters in a fixed order (the checkpoint order).
type net struct {
	cfg    ModelConfig
	convs  []convSpec
	params []*param // per conv: weight then bias
	byName map[string]*param
}

// convSpecs lists the convolutions of cfg's architecture:
//
//	x0 = [rgb, planes]                       H
//	e1 = lrelu(conv3x3/2 x0)                  H/2,  C1
//	e2 = lrelu(conv3x3/2 e1)                  H/4,  C2
//	h  = e2 + sum of residual blocks         H/4,  C2
//	d1 = lrelu(conv3x3 [up2(h), e1])          H/2,  C1
//	d0 = lrelu(conv3x3 [up2(d1), x0])         H,    CD
//	frame' = rgb + conv1x1 d0                H,    3 (zero-initialised)
func convSpecs(cfg ModelConfig) []convSpec {
	s := []convSpec{
		{name: "enc1", in: inChannels, out: cfg.C1, k: 3, str: 2},
		{name: "enc2", in: cfg.C1, out: cfg.C2, k: 3, str: 2},
	}
	for i := 0; i < cfg.Blocks; i++ {
		s = append(s,
			convSpec{name: fmt.Sprintf("res%da", i), in: cfg.C2, out: cfg.C2, k: 3, str: 1},
			convSpec{name: fmt.Sprintf("res%db", i), in: cfg.C2, out: cfg.C2, k: 3, str: 1})
	}
	s = append(s,
		convSpec{name: "dec1", in: cfg.C2 + cfg.C1, out: cfg.C1, k: 3, str: 1},
		convSpec{name: "dec0", in: cfg.C1 + inChannels, out: cfg.CD, k: 3, str: 1},
		convSpec{name: "out", in: cfg.CD, out: 3, k: 1, str: 1, zero: true},
	)
	return s
}

// newNet makes the parameters of cfg, randomly initialised from seed
// (He-normal weights; zero biases; the output layer zero so the untrained
// network predicts "nothing changes").
func newNet(cfg ModelConfig, seed uint64) *net {
	n := &net{cfg: cfg, convs: convSpecs(cfg), byName: map[string]*param{}}
	rng := rand.New(rand.NewPCG(seed, 0x6c6174656e74))
	for _, c := range n.convs {
		w := make([]float32, c.out*c.in*c.k*c.k)
		if !c.zero {
			std := math.Sqrt(2 / float64(c.in*c.k*c.k))
			if c.name[:3] == "res" && c.name[len(c.name)-1] == 'b' {
				std *= 0.1 // residual branches start small
			}
			for i := range w {
				w[i] = float32(rng.NormFloat64() * std)
			}
		}
		n.add(c.name+".w", []int{c.out, c.in, c.k, c.k}, w)
		n.add(c.name+".b", []int{c.out}, make([]float32, c.out))
	}
	return n
}

func (n *net) add(name string, shape []int, data []float32) {
	p := &param{name: name, shape: shape, t: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))}
	n.params = append(n.params, p)
	n.byName[name] = p
}

// numParams is the number of scalar parameters.
func (n *net) numParams() int {
	total := 0
	for _, p := range n.params {
		total += p.t.Shape().TotalSize()
	}
	return total
}

// flops counts the multiply-adds (as 2 FLOPs) of the convolutions of one
// step on an h x w frame, for one episode.
func (n *net) flops(h, w int) float64 {
	total := 0.0
	sizes := map[string]int{"enc1": 2, "enc2": 4, "dec1": 2, "dec0": 1, "out": 1}
	for _, c := range n.convs {
		div, ok := sizes[c.name]
		if !ok {
			div = 4 // residual blocks
		}
		oh, ow := h/div, w/div
		total += 2 * float64(oh*ow*c.out*c.in*c.k*c.k)
	}
	return total
}

// graphNet is the network's parameters as nodes of one graph.
type graphNet struct {
	n     *net
	g     *G.ExprGraph
	nodes map[string]*G.Node
	list  G.Nodes // in n.params order
}

// bind makes a node for every parameter in g, sharing the parameter's
// tensor (so weight updates are seen by every graph).
func (n *net) bind(g *G.ExprGraph) *graphNet {
	gn := &graphNet{n: n, g: g, nodes: map[string]*G.Node{}}
	for _, p := range n.params {
		node := G.NewTensor(g, tensor.Float32, len(p.shape), G.WithShape(p.shape...), G.WithName(p.name), G.WithValue(p.t))
		gn.nodes[p.name] = node
		gn.list = append(gn.list, node)
	}
	return gn
}

func (gn *graphNet) conv(name string, x *G.Node) (*G.Node, error) {
	var spec convSpec
	for _, c := range gn.n.convs {
		if c.name == name {
			spec = c
		}
	}
	pad := spec.k / 2
	y, err := conv2d(x, gn.nodes[name+".w"], spec.k, pad, spec.str)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	b, err := G.Reshape(gn.nodes[name+".b"], tensor.Shape{1, spec.out, 1, 1})
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(y, b, nil, []byte{0, 2, 3})
}

// step builds one prediction step: from the previous frame (B,3,H,W, values
// 0..1), the planes (B,numPlanes,H,W) and the change gate (B,3,H,W) to the
// next frame: rgb + gate * delta.
func (gn *graphNet) step(rgb, planes, gate *G.Node) (*G.Node, error) {
	x0, err := G.Concat(1, rgb, planes)
	if err != nil {
		return nil, err
	}
	relu := func(x *G.Node, err error) (*G.Node, error) {
		if err != nil {
			return nil, err
		}
		return G.LeakyRelu(x, 0.1) // leaky: dead units do not come back
	}
	e1, err := relu(gn.conv("enc1", x0))
	if err != nil {
		return nil, err
	}
	h, err := relu(gn.conv("enc2", e1))
	if err != nil {
		return nil, err
	}
	for i := 0; i < gn.n.cfg.Blocks; i++ {
		a, err := relu(gn.conv(fmt.Sprintf("res%da", i), h))
		if err != nil {
			return nil, err
		}
		b, err := gn.conv(fmt.Sprintf("res%db", i), a)
		if err != nil {
			return nil, err
		}
		if h, err = relu(G.Add(h, b)); err != nil {
			return nil, err
		}
	}
	up, err := upsample2(h)
	if err != nil {
		return nil, err
	}
	cat, err := G.Concat(1, up, e1)
	if err != nil {
		return nil, err
	}
	d1, err := relu(gn.conv("dec1", cat))
	if err != nil {
		return nil, err
	}
	if up, err = upsample2(d1); err != nil {
		return nil, err
	}
	if cat, err = G.Concat(1, up, x0); err != nil {
		return nil, err
	}
	d0, err := relu(gn.conv("dec0", cat))
	if err != nil {
		return nil, err
	}
	delta, err := gn.conv("out", d0)
	if err != nil {
		return nil, err
	}
	if delta, err = G.HadamardProd(delta, gate); err != nil {
		return nil, err
	}
	return G.Add(rgb, delta)
}
