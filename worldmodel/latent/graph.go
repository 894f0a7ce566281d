package latent

import (
	"sync"

	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// buildMu serialises graph construction: gorgonia v0.9.18 keeps unguarded
// global state (encoding groups, lazily cached node hashes) while building
// graphs, so two goroutines building at once race. Running built graphs in
// parallel is safe.
var buildMu sync.Mutex

// charbonnierEps is the scale below which the loss is quadratic (about 5
// grey levels of 255).
const charbonnierEps = 0.02

// trainGraph is the training graph for one batch size, unroll length and
// frame (crop) size, built once and run for every batch.
type trainGraph struct {
	batch, unroll, h, w int

	g      *G.ExprGraph
	gn     *graphNet
	vm     G.VM
	first  *G.Node   // (B,3,H,W) the last true frame before the unroll
	planes []*G.Node // per step (B,numPlanes,H,W)
	target []*G.Node // per step (B,3,H,W)
	weight []*G.Node // per step (B,3,H,W) per-pixel loss weights
	gate   []*G.Node // per step (B,3,H,W) change gate
	loss   *G.Node

	// Input tensors, filled in place before each run.
	firstT  *tensor.Dense
	planesT []*tensor.Dense
	targetT []*tensor.Dense
	weightT []*tensor.Dense
	gateT   []*tensor.Dense
}

func newTrainGraph(n *net, batch, unroll, h, w int) (*trainGraph, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	tg := &trainGraph{batch: batch, unroll: unroll, h: h, w: w, g: G.NewGraph()}
	tg.gn = n.bind(tg.g)
	img := func(c int, name string) (*G.Node, *tensor.Dense) {
		t := tensor.New(tensor.WithShape(batch, c, h, w), tensor.WithBacking(make([]float32, batch*c*h*w)))
		return G.NewTensor(tg.g, tensor.Float32, 4, G.WithShape(batch, c, h, w), G.WithName(name), G.WithValue(t)), t
	}
	tg.first, tg.firstT = img(3, "first")
	prev := tg.first
	var terms G.Nodes
	for k := 0; k < unroll; k++ {
		p, pt := img(numPlanes, fmt.Sprintf("planes%d", k))
		tgt, tt := img(3, fmt.Sprintf("target%d", k))
		wn, wt := img(3, fmt.Sprintf("weight%d", k))
		gt, gtt := img(3, fmt.Sprintf("gate%d", k))
		tg.gate, tg.gateT = append(tg.gate, gt), append(tg.gateT, gtt)
		tg.planes, tg.planesT = append(tg.planes, p), append(tg.planesT, pt)
		tg.target, tg.targetT = append(tg.target, tgt), append(tg.targetT, tt)
		tg.weight, tg.weightT = append(tg.weight, wn), append(tg.weightT, wt)
		out, err := tg.gn.step(prev, p, gt)
		if err != nil {
			return nil, err
		}
		diff, err := G.Sub(out, tgt)
		if err != nil {
			return nil, err
		}
		// Charbonnier loss sqrt(d^2+eps^2): like L1 for real errors (sharp
		// edges, where MSE blurs), but with no pull towards exactly zero
		// change on static pixels, which under plain L1 killed the decoder.
		sq, err := G.Square(diff)
		if err != nil {
			return nil, err
		}
		sq, err = G.Add(sq, G.NewConstant(float32(charbonnierEps*charbonnierEps)))
		if err != nil {
			return nil, err
		}
		ad, err := G.Sqrt(sq)
		if err != nil {
			return nil, err
		}
		wd, err := G.HadamardProd(ad, wn)
		if err != nil {
			return nil, err
		}
		s, err := G.Sum(wd)
		if err != nil {
			return nil, err
		}
		terms = append(terms, s)
		prev = out
	}
	total, err := G.ReduceAdd(terms)
	if err != nil {
		return nil, err
	}
	norm := G.NewConstant(float32(1.0 / float64(batch*unroll*3*h*w)))
	if tg.loss, err = G.Mul(total, norm); err != nil {
		return nil, err
	}
	if _, err := G.Grad(tg.loss, tg.gn.list...); err != nil {
		return nil, fmt.Errorf("latent: gradient: %w", err)
	}
	tg.vm = G.NewTapeMachine(tg.g)
	return tg, nil
}

// run does one forward and backward pass and returns the loss; the
// gradients are in grads() until the next run.
func (tg *trainGraph) run() (float64, error) {
	tg.vm.Reset()
	if err := tg.vm.RunAll(); err != nil {
		return 0, err
	}
	return float64(tg.loss.Value().Data().(float32)), nil
}

// grads returns the gradient of every parameter, in net order.
func (tg *trainGraph) grads() ([][]float32, error) {
	out := make([][]float32, len(tg.gn.list))
	for i, n := range tg.gn.list {
		gv, err := n.Grad()
		if err != nil {
			return nil, fmt.Errorf("latent: gradient of %s: %w", n.Name(), err)
		}
		out[i] = gv.Data().([]float32)
	}
	return out, nil
}

func (tg *trainGraph) close() { tg.vm.Close() }

// inferGraph predicts one step for a batch of whole frames.
type inferGraph struct {
	batch               int
	g                   *G.ExprGraph
	vm                  G.VM
	rgb, planes, gate   *G.Node
	out                 *G.Node
	rgbT, planeT, gateT *tensor.Dense
}

func newInferGraph(n *net, batch int) (*inferGraph, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	h, w := n.cfg.FrameH, n.cfg.FrameW
	ig := &inferGraph{batch: batch, g: G.NewGraph()}
	gn := n.bind(ig.g)
	ig.rgbT = tensor.New(tensor.WithShape(batch, 3, h, w), tensor.WithBacking(make([]float32, batch*3*h*w)))
	ig.planeT = tensor.New(tensor.WithShape(batch, numPlanes, h, w), tensor.WithBacking(make([]float32, batch*numPlanes*h*w)))
	ig.rgb = G.NewTensor(ig.g, tensor.Float32, 4, G.WithShape(batch, 3, h, w), G.WithName("rgb"), G.WithValue(ig.rgbT))
	ig.planes = G.NewTensor(ig.g, tensor.Float32, 4, G.WithShape(batch, numPlanes, h, w), G.WithName("planes"), G.WithValue(ig.planeT))
	ig.gateT = tensor.New(tensor.WithShape(batch, 3, h, w), tensor.WithBacking(make([]float32, batch*3*h*w)))
	ig.gate = G.NewTensor(ig.g, tensor.Float32, 4, G.WithShape(batch, 3, h, w), G.WithName("gate"), G.WithValue(ig.gateT))
	out, err := gn.step(ig.rgb, ig.planes, ig.gate)
	if err != nil {
		return nil, err
	}
	ig.out = out
	ig.vm = G.NewTapeMachine(ig.g)
	return ig, nil
}

// run predicts from the filled input tensors; the result is valid until
// the next run.
func (ig *inferGraph) run() ([]float32, error) {
	ig.vm.Reset()
	if err := ig.vm.RunAll(); err != nil {
		return nil, err
	}
	return ig.out.Value().Data().([]float32), nil
}

func (ig *inferGraph) close() { ig.vm.Close() }
