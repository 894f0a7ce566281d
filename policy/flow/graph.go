package flow

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"

	"dreamrank/nn"
)

// trainGraph is one training step's graph for a fixed batch size: the whole
// network, or (headOnly) the flow head on precomputed observation features
// with the encoder frozen.
type trainGraph struct {
	g                                *G.ExprGraph
	b                                *nn.Bound
	vm                               G.VM
	img, proprio, obs, xt, temb, ctx input
	target                           input
	auxLabel, auxMask                input // the pose labels and which are valid
	loss                             *G.Node
	// trained[i] says whether parameter i gets a gradient.
	trained []bool
}

func newTrainGraph(ps *nn.Params, c ModelConfig, batch int, headOnly bool, auxWeight float64) (*trainGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	tg := &trainGraph{g: g, b: ps.Bind(g)}
	tg.xt = newInput(g, "xt", batch, c.chunkDim())
	tg.temb = newInput(g, "temb", batch, c.TimeDim)
	tg.ctx = newInput(g, "ctx", batch, c.ctxDim())
	tg.target = newInput(g, "target", batch, c.chunkDim())
	var obs, aux *G.Node
	if headOnly {
		tg.obs = newInput(g, "obs", batch, c.obsDim())
		obs = tg.obs.n
	} else {
		tg.img = newInput(g, "img", batch, 3, c.inH(), c.inW())
		tg.proprio = newInput(g, "proprio", batch, c.ProprioDim)
		kp, err := keypoints(tg.b, c, tg.img.n)
		if err == nil {
			obs, err = G.Concat(1, kp, tg.proprio.n)
		}
		if err != nil {
			return nil, err
		}
		if c.AuxPose && auxWeight > 0 {
			if aux, err = tg.auxLoss(kp, batch, auxWeight); err != nil {
				return nil, err
			}
		}
	}
	v, err := velocity(tg.b, c, tg.xt.n, tg.temb.n, obs, tg.ctx.n)
	if err != nil {
		return nil, err
	}
	d, err := G.Sub(v, tg.target.n)
	if err == nil {
		d, err = G.Square(d)
	}
	if err == nil {
		tg.loss, err = G.Mean(d)
	}
	if err == nil && aux != nil {
		tg.loss, err = G.Add(tg.loss, aux)
	}
	if err != nil {
		return nil, fmt.Errorf("flow: loss: %w", err)
	}
	var wrt G.Nodes
	for i, p := range ps.List {
		tr := !headOnly || !isEncoder(p.Name)
		tg.trained = append(tg.trained, tr)
		if tr {
			wrt = append(wrt, tg.b.Nodes[i])
		}
	}
	if _, err := G.Grad(tg.loss, wrt...); err != nil {
		return nil, fmt.Errorf("flow: gradient: %w", err)
	}
	tg.vm = G.NewTapeMachine(g)
	return tg, nil
}

// auxLoss is weight * the masked mean squared error of the pose head.
func (tg *trainGraph) auxLoss(kp *G.Node, batch int, weight float64) (*G.Node, error) {
	tg.auxLabel = newInput(tg.g, "aux_label", batch, auxDim)
	tg.auxMask = newInput(tg.g, "aux_mask", batch, auxDim)
	pred, err := tg.b.Linear("aux", kp)
	if err != nil {
		return nil, err
	}
	d, err := G.Sub(pred, tg.auxLabel.n)
	if err == nil {
		d, err = G.Square(d)
	}
	if err == nil {
		d, err = G.HadamardProd(d, tg.auxMask.n)
	}
	if err == nil {
		d, err = G.Mean(d)
	}
	if err != nil {
		return nil, fmt.Errorf("flow: aux loss: %w", err)
	}
	return G.Mul(d, G.NewConstant(float32(weight)))
}

// isEncoder reports whether a parameter belongs to the image encoder or
// its auxiliary head, frozen in the head stage.
func isEncoder(name string) bool {
	return strings.HasPrefix(name, "enc") || strings.HasPrefix(name, "aux")
}

// run does one forward and backward pass and returns the loss and the
// gradients (valid until the next run), in parameter order.
func (tg *trainGraph) run() (float64, [][]float32, error) {
	tg.vm.Reset()
	if err := tg.vm.RunAll(); err != nil {
		return 0, nil, err
	}
	grads := make([][]float32, len(tg.b.Nodes))
	for i, n := range tg.b.Nodes {
		if !tg.trained[i] {
			continue // frozen: a nil gradient
		}
		gv, err := n.Grad()
		if err != nil {
			return 0, nil, fmt.Errorf("flow: gradient of %s: %w", n.Name(), err)
		}
		grads[i] = gv.Data().([]float32)
	}
	return float64(tg.loss.Value().Data().(float32)), grads, nil
}

func (tg *trainGraph) close() { tg.vm.Close() }
