package slots

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"dreamrank/foundation/nn"
)

// stepInputs are one unrolled step's inputs, each (batch, 1), in frame
// pixels: pts[e][i] is effector e's position at t-1+i (x, y), recorded
// (the robot is kinematic: the objects never push it back); targets[j] is
// passive object j's recorded keypoints after the step, (batch, 2*kp).
//
// depth[j][e][i] is effector e's contact depth at point i on passive
// object j as it stands in the unroll, when the model reads contact
// depths: it is computed outside the graph by running the same unroll
// forward (gradients do not flow through it; positions carry them).
type stepInputs struct {
	pts     [][4][2]nn.Input
	targets []nn.Input
	depth   [][][4]nn.Input
}

// trainGraph is the multi-step training graph: every passive object's
// pose is unrolled through its network's own predictions for Unroll steps
// and its keypoints compared with the recorded ones at every step.
type trainGraph struct {
	b             *nn.Bound
	prog          *nn.Program
	start         [][3]nn.Input // per passive: x, y, angle
	steps         []stepInputs
	loss          *G.Node
	batch, unroll int
	kps           [][][2]float64 // per passive
}

// local maps frame points into an object's frame (cos c, sin s at x, y),
// scaled to input units.
func local(gb *nn.Builder, c, s, x, y, px, py *G.Node, scale float64) (*G.Node, *G.Node) {
	dx, dy := gb.Sub(px, x), gb.Sub(py, y)
	lx := gb.Add(gb.Mul(c, dx), gb.Mul(s, dy))
	ly := gb.Sub(gb.Mul(c, dy), gb.Mul(s, dx))
	return gb.Scale(lx, 1/scale), gb.Scale(ly, 1/scale)
}

func newTrainGraph(d *dynamics, kps [][][2]float64, batch, unroll int) (*trainGraph, error) {
	nn.BuildMu.Lock()
	defer nn.BuildMu.Unlock()
	g := G.NewGraph()
	gb := &nn.Builder{G: g}
	tg := &trainGraph{b: d.ps.Bind(g), batch: batch, unroll: unroll, kps: kps}
	col := func(name string) nn.Input { return nn.NewInput(g, name, batch, 1) }
	nE, nP := len(d.eff), len(d.lay.Passives)
	type poseNodes struct{ x, y, a, c, s *G.Node }
	cur := make([]poseNodes, nP)
	for j := range nP {
		in := [3]nn.Input{col(fmt.Sprintf("x0_%d", j)), col(fmt.Sprintf("y0_%d", j)), col(fmt.Sprintf("a0_%d", j))}
		tg.start = append(tg.start, in)
		cur[j] = poseNodes{x: in[0].N, y: in[1].N, a: in[2].N}
		cur[j].c, cur[j].s = gb.Cos(cur[j].a), gb.Sin(cur[j].a)
	}
	var total *G.Node
	for k := range unroll {
		si := stepInputs{pts: make([][4][2]nn.Input, nE)}
		for e := range nE {
			for i := range 4 {
				si.pts[e][i] = [2]nn.Input{col(fmt.Sprintf("e%d_p%d_x_%d", e, i, k)), col(fmt.Sprintf("e%d_p%d_y_%d", e, i, k))}
			}
		}
		for j := range nP {
			si.targets = append(si.targets, nn.NewInput(g, fmt.Sprintf("target%d_%d", j, k), batch, 2*len(kps[j])))
			si.depth = append(si.depth, make([][4]nn.Input, nE))
			p := cur[j]
			var feats []*G.Node
			for e := range nE {
				for i := range 4 {
					lx, ly := local(gb, p.c, p.s, p.x, p.y, si.pts[e][i][0].N, si.pts[e][i][1].N, d.posScale)
					feats = append(feats, lx, ly)
				}
				if d.cfg.ContactDepth {
					for i := range 4 {
						si.depth[j][e][i] = col(fmt.Sprintf("depth%d_e%d_p%d_%d", j, e, i, k))
						feats = append(feats, si.depth[j][e][i].N)
					}
				}
			}
			o := gb.MLP(tg.b, gb.Concat(1, feats...), mlpNames(d.cfg, j)...)
			dx := gb.Scale(gb.Column(o, 0, 3), d.shiftScale)
			dy := gb.Scale(gb.Column(o, 1, 3), d.shiftScale)
			da := gb.Scale(gb.Column(o, 2, 3), d.turnScale)
			p.x = gb.Add(p.x, gb.Sub(gb.Mul(p.c, dx), gb.Mul(p.s, dy)))
			p.y = gb.Add(p.y, gb.Add(gb.Mul(p.s, dx), gb.Mul(p.c, dy)))
			p.a = gb.Add(p.a, da)
			p.c, p.s = gb.Cos(p.a), gb.Sin(p.a)
			cur[j] = p
			var pts []*G.Node
			for _, kp := range kps[j] {
				pts = append(pts,
					gb.Add(p.x, gb.Sub(gb.Scale(p.c, kp[0]), gb.Scale(p.s, kp[1]))),
					gb.Add(p.y, gb.Add(gb.Scale(p.s, kp[0]), gb.Scale(p.c, kp[1]))))
			}
			l := gb.MeanSquare(gb.Sub(gb.Concat(1, pts...), si.targets[j].N))
			if total == nil {
				total = l
			} else {
				total = gb.Add(total, l)
			}
		}
		tg.steps = append(tg.steps, si)
	}
	// Squared keypoint error in output units (shiftScale px)^2, averaged
	// over steps.
	tg.loss = gb.Scale(total, 1/(d.shiftScale*d.shiftScale*float64(unroll)))
	if gb.Err != nil {
		return nil, fmt.Errorf("slots: build training graph: %w", gb.Err)
	}
	prog, err := nn.Compile(tg.b, d.ps, tg.loss, isDynamics)
	if err != nil {
		return nil, fmt.Errorf("slots: %w", err)
	}
	tg.prog = prog
	return tg, nil
}

func (tg *trainGraph) close() { tg.prog.Close() }
