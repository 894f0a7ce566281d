package flow

import (
	"fmt"
	"strings"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/nn"
)

// trainGraph is one training step's graph for a fixed batch size: the whole
// network, or (headOnly) the flow head on precomputed observation features
// with the encoder frozen.
type trainGraph struct {
	g                                *G.ExprGraph
	b                                *nn.Bound
	prog                             *nn.Program
	img, proprio, obs, xt, temb, ctx nn.Input
	target                           nn.Input
	auxLabel, auxMask                nn.Input // the pose labels and which are valid
	loss                             *G.Node
}

func newTrainGraph(ps *nn.Params, c ModelConfig, batch int, headOnly bool, auxWeight float64) (*trainGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	tg := &trainGraph{g: g, b: ps.Bind(g)}
	tg.xt = nn.NewInput(g, "xt", batch, c.chunkDim())
	tg.temb = nn.NewInput(g, "temb", batch, c.TimeDim)
	tg.ctx = nn.NewInput(g, "ctx", batch, c.ctxDim())
	tg.target = nn.NewInput(g, "target", batch, c.chunkDim())
	var obs, aux *G.Node
	if headOnly {
		tg.obs = nn.NewInput(g, "obs", batch, c.obsDim())
		obs = tg.obs.N
	} else {
		tg.img = nn.NewInput(g, "img", batch, 3, c.inH(), c.inW())
		tg.proprio = nn.NewInput(g, "proprio", batch, c.ProprioDim)
		kp, err := keypoints(tg.b, c, tg.img.N)
		if err == nil {
			obs, err = G.Concat(1, kp, tg.proprio.N)
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
	v, err := velocity(tg.b, c, tg.xt.N, tg.temb.N, obs, tg.ctx.N, nil)
	if err != nil {
		return nil, err
	}
	d, err := G.Sub(v, tg.target.N)
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
	tg.prog, err = nn.Compile(tg.b, ps, tg.loss, func(name string) bool { return !headOnly || !isEncoder(name) })
	if err != nil {
		return nil, fmt.Errorf("flow: %w", err)
	}
	return tg, nil
}

// auxLoss is weight * the masked mean squared error of the pose head.
func (tg *trainGraph) auxLoss(kp *G.Node, batch int, weight float64) (*G.Node, error) {
	tg.auxLabel = nn.NewInput(tg.g, "aux_label", batch, auxDim)
	tg.auxMask = nn.NewInput(tg.g, "aux_mask", batch, auxDim)
	pred, err := tg.b.Linear("aux", kp)
	if err != nil {
		return nil, err
	}
	d, err := G.Sub(pred, tg.auxLabel.N)
	if err == nil {
		d, err = G.Square(d)
	}
	if err == nil {
		d, err = G.HadamardProd(d, tg.auxMask.N)
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

func (tg *trainGraph) close() { tg.prog.Close() }
