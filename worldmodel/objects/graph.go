package objects

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/nn"
)

// stepInputs are one unrolled step's inputs, each (batch, 1) in table px:
// the pusher now and after the step (recorded: the pusher is kinematic and
// the block never pushes it back), and the action target.
type stepInputs struct {
	nowX, nowY, nextX, nextY, uX, uY nn.Input
	// target is the recorded block's keypoints after the step,
	// (batch, 2*len(keypoints)), x then y per keypoint.
	target nn.Input
}

// trainGraph is the multi-step training graph: the block pose is unrolled
// through the network's own predictions for Unroll steps and compared with
// the recorded poses at every step.
type trainGraph struct {
	b             *nn.Bound
	prog          *nn.Program
	x0, y0, a0    nn.Input
	steps         []stepInputs
	loss          *G.Node
	batch, unroll int
}

// local maps table points into the block frame (cos c, sin s at x, y),
// scaled to input units.
func local(gb *nn.Builder, c, s, x, y, px, py *G.Node) (*G.Node, *G.Node) {
	dx, dy := gb.Sub(px, x), gb.Sub(py, y)
	lx := gb.Add(gb.Mul(c, dx), gb.Mul(s, dy))
	ly := gb.Sub(gb.Mul(c, dy), gb.Mul(s, dx))
	return gb.Scale(lx, 1/posScale), gb.Scale(ly, 1/posScale)
}

// mlp is the block network on (batch, numFeatures) features.
func mlp(gb *nn.Builder, b *nn.Bound, c ModelConfig, feat *G.Node) *G.Node {
	names := make([]string, 0, c.Layers+1)
	for i := range c.Layers {
		names = append(names, layerName(i))
	}
	return gb.MLP(b, feat, append(names, outLayer)...)
}

func newTrainGraph(ps *nn.Params, c ModelConfig, batch, unroll int) (*trainGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	gb := &nn.Builder{G: g}
	tg := &trainGraph{b: ps.Bind(g), batch: batch, unroll: unroll}
	col := func(name string) nn.Input { return nn.NewInput(g, name, batch, 1) }
	tg.x0, tg.y0, tg.a0 = col("x0"), col("y0"), col("a0")
	x, y, a := tg.x0.N, tg.y0.N, tg.a0.N
	cs, sn := gb.Cos(a), gb.Sin(a)
	var total *G.Node
	for k := range unroll {
		name := func(s string) string { return fmt.Sprintf("%s%d", s, k) }
		si := stepInputs{
			nowX: col(name("nowx")), nowY: col(name("nowy")), nextX: col(name("nextx")), nextY: col(name("nexty")),
			uX: col(name("ux")), uY: col(name("uy")),
			target: nn.NewInput(g, name("target"), batch, 2*len(keypoints)),
		}
		tg.steps = append(tg.steps, si)
		var feats []*G.Node
		for _, pt := range [3][2]nn.Input{{si.nowX, si.nowY}, {si.nextX, si.nextY}, {si.uX, si.uY}} {
			lx, ly := local(gb, cs, sn, x, y, pt[0].N, pt[1].N)
			feats = append(feats, lx, ly)
		}
		feat := gb.Concat(1, feats...)
		o := mlp(gb, tg.b, c, feat)
		dx := gb.Scale(gb.Column(o, 0, 3), shiftScale)
		dy := gb.Scale(gb.Column(o, 1, 3), shiftScale)
		da := gb.Scale(gb.Column(o, 2, 3), turnScale)
		x = gb.Add(x, gb.Sub(gb.Mul(cs, dx), gb.Mul(sn, dy)))
		y = gb.Add(y, gb.Add(gb.Mul(sn, dx), gb.Mul(cs, dy)))
		a = gb.Add(a, da)
		cs, sn = gb.Cos(a), gb.Sin(a)
		var kps []*G.Node
		for _, kp := range keypoints {
			kx := gb.Add(x, gb.Sub(gb.Scale(cs, kp[0]), gb.Scale(sn, kp[1])))
			ky := gb.Add(y, gb.Add(gb.Scale(sn, kp[0]), gb.Scale(cs, kp[1])))
			kps = append(kps, kx, ky)
		}
		pred := gb.Concat(1, kps...)
		d := gb.Sub(pred, si.target.N)
		l := gb.MeanSquare(d)
		if total == nil {
			total = l
		} else {
			total = gb.Add(total, l)
		}
	}
	// Squared keypoint error in (10 px)^2, averaged over steps.
	tg.loss = gb.Scale(total, 1/(100*float64(unroll)))
	if gb.Err != nil {
		return nil, fmt.Errorf("objects: build training graph: %w", gb.Err)
	}
	// The pusher head is fitted by least squares, not descended.
	prog, err := nn.Compile(tg.b, ps, tg.loss, func(name string) bool { return name != agentParam })
	if err != nil {
		return nil, fmt.Errorf("objects: %w", err)
	}
	tg.prog = prog
	return tg, nil
}

func (tg *trainGraph) close() { tg.prog.Close() }
