package objects

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

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

// graphBuilder wraps gorgonia's error-returning ops so the unrolled graph
// reads like the math; the first error sticks.
type graphBuilder struct {
	g   *G.ExprGraph
	err error
}

func (gb *graphBuilder) op(f func() (*G.Node, error)) *G.Node {
	if gb.err != nil {
		return nil
	}
	n, err := f()
	if err != nil {
		gb.err = err
	}
	return n
}

func (gb *graphBuilder) add(a, b *G.Node) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.Add(a, b) })
}
func (gb *graphBuilder) sub(a, b *G.Node) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.Sub(a, b) })
}
func (gb *graphBuilder) mul(a, b *G.Node) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.HadamardProd(a, b) })
}
func (gb *graphBuilder) scale(a *G.Node, k float64) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.Mul(a, G.NewConstant(float32(k))) })
}
func (gb *graphBuilder) sin(a *G.Node) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.Sin(a) })
}
func (gb *graphBuilder) cos(a *G.Node) *G.Node {
	return gb.op(func() (*G.Node, error) { return G.Cos(a) })
}

// column selects column j of a (batch, n) node as (batch, 1).
func (gb *graphBuilder) column(a *G.Node, j, n int) *G.Node {
	sel := make([]float32, n)
	sel[j] = 1
	c := G.NewConstant(tensor.New(tensor.WithShape(n, 1), tensor.WithBacking(sel)))
	return gb.op(func() (*G.Node, error) { return G.Mul(a, c) })
}

// local maps table points into the block frame (cos c, sin s at x, y),
// scaled to input units.
func (gb *graphBuilder) local(c, s, x, y, px, py *G.Node) (*G.Node, *G.Node) {
	dx, dy := gb.sub(px, x), gb.sub(py, y)
	lx := gb.add(gb.mul(c, dx), gb.mul(s, dy))
	ly := gb.sub(gb.mul(c, dy), gb.mul(s, dx))
	return gb.scale(lx, 1/posScale), gb.scale(ly, 1/posScale)
}

// mlp is the block network on (batch, numFeatures) features.
func mlp(gb *graphBuilder, b *nn.Bound, c ModelConfig, feat *G.Node) *G.Node {
	h := feat
	for i := range c.Layers {
		h = gb.op(func() (*G.Node, error) { return b.Linear(layerName(i), h) })
		h = gb.op(func() (*G.Node, error) { return nn.SiLU(h) })
	}
	return gb.op(func() (*G.Node, error) { return b.Linear(outLayer, h) })
}

func newTrainGraph(ps *nn.Params, c ModelConfig, batch, unroll int) (*trainGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	gb := &graphBuilder{g: g}
	tg := &trainGraph{b: ps.Bind(g), batch: batch, unroll: unroll}
	col := func(name string) nn.Input { return nn.NewInput(g, name, batch, 1) }
	tg.x0, tg.y0, tg.a0 = col("x0"), col("y0"), col("a0")
	x, y, a := tg.x0.N, tg.y0.N, tg.a0.N
	cs, sn := gb.cos(a), gb.sin(a)
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
			lx, ly := gb.local(cs, sn, x, y, pt[0].N, pt[1].N)
			feats = append(feats, lx, ly)
		}
		feat := gb.op(func() (*G.Node, error) { return G.Concat(1, feats...) })
		o := mlp(gb, tg.b, c, feat)
		dx := gb.scale(gb.column(o, 0, 3), shiftScale)
		dy := gb.scale(gb.column(o, 1, 3), shiftScale)
		da := gb.scale(gb.column(o, 2, 3), turnScale)
		x = gb.add(x, gb.sub(gb.mul(cs, dx), gb.mul(sn, dy)))
		y = gb.add(y, gb.add(gb.mul(sn, dx), gb.mul(cs, dy)))
		a = gb.add(a, da)
		cs, sn = gb.cos(a), gb.sin(a)
		var kps []*G.Node
		for _, kp := range keypoints {
			kx := gb.add(x, gb.sub(gb.scale(cs, kp[0]), gb.scale(sn, kp[1])))
			ky := gb.add(y, gb.add(gb.scale(sn, kp[0]), gb.scale(cs, kp[1])))
			kps = append(kps, kx, ky)
		}
		pred := gb.op(func() (*G.Node, error) { return G.Concat(1, kps...) })
		d := gb.sub(pred, si.target.N)
		l := gb.op(func() (*G.Node, error) { return G.Square(d) })
		l = gb.op(func() (*G.Node, error) { return G.Mean(l) })
		if total == nil {
			total = l
		} else {
			total = gb.add(total, l)
		}
	}
	// Squared keypoint error in (10 px)^2, averaged over steps.
	tg.loss = gb.scale(total, 1/(100*float64(unroll)))
	if gb.err != nil {
		return nil, fmt.Errorf("objects: build training graph: %w", gb.err)
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
