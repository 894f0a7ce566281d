package flow

import (
	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/nn"
)

// The gorgonia inference graphs: the reference the fast pass is tested
// against (inference itself uses fast.go).

// encodeGraph computes observation features for a batch.
type encodeGraph struct {
	vm           G.VM
	img, proprio nn.Input
	out          *G.Node
}

func newEncodeGraph(ps *nn.Params, c ModelConfig, batch int) (*encodeGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	b := ps.Bind(g)
	eg := &encodeGraph{img: nn.NewInput(g, "img", batch, 3, c.inH(), c.inW()), proprio: nn.NewInput(g, "proprio", batch, c.ProprioDim)}
	var err error
	if eg.out, err = encode(b, c, eg.img.N, eg.proprio.N); err != nil {
		return nil, err
	}
	eg.vm = G.NewTapeMachine(g)
	return eg, nil
}

func (eg *encodeGraph) run() ([]float32, error) {
	eg.vm.Reset()
	if err := eg.vm.RunAll(); err != nil {
		return nil, err
	}
	return eg.out.Value().Data().([]float32), nil
}

// headGraph computes velocities for a batch of noisy chunks.
type headGraph struct {
	vm                 G.VM
	xt, temb, obs, ctx nn.Input
	out                *G.Node
}

func newHeadGraph(ps *nn.Params, c ModelConfig, batch int) (*headGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	b := ps.Bind(g)
	hg := &headGraph{
		xt:   nn.NewInput(g, "xt", batch, c.chunkDim()),
		temb: nn.NewInput(g, "temb", batch, c.TimeDim),
		obs:  nn.NewInput(g, "obs", batch, c.obsDim()),
		ctx:  nn.NewInput(g, "ctx", batch, c.ctxDim()),
	}
	var err error
	if hg.out, err = velocity(b, c, hg.xt.N, hg.temb.N, hg.obs.N, hg.ctx.N, nil); err != nil {
		return nil, err
	}
	hg.vm = G.NewTapeMachine(g)
	return hg, nil
}

func (hg *headGraph) run() ([]float32, error) {
	hg.vm.Reset()
	if err := hg.vm.RunAll(); err != nil {
		return nil, err
	}
	return hg.out.Value().Data().([]float32), nil
}
