package slots

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The contact depths are computed outside the training graph by running
// its unroll forward; they are right only if that forward reaches the
// poses the graph does. With random weights (so objects move), the graph's
// loss must equal the loss of the forward unroll, to float32 rounding.
func TestGraphUnrollMatchesForward(t *testing.T) {
	m := tinyModel(t)
	d := m.d
	if !d.cfg.ContactDepth {
		t.Fatal("the default model does not read contact depths")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, p := range d.ps.List {
		if isDynamics(p.Name) {
			for i := range p.Data() {
				p.Data()[i] = float32(rng.NormFloat64() * 0.3)
			}
		}
	}
	kps := [][][2]float64{keypoints(d.scene.Sprites[d.lay.Passives[0]], 4)}
	const batch, unroll = 3, 5
	tg, err := newTrainGraph(d, kps, batch, unroll)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.close()
	// Effectors sweep into the object from outside its reach (so their
	// contact depths change along the unroll), targets stay at the start.
	reach := footprintRadius(d.scene.Sprites[d.lay.Passives[0]])
	for b := range batch {
		p := Pose{X: 30 + float64(b), Y: 32, A: 0.3 * float64(b)}
		tg.start[0][0].Data()[b], tg.start[0][1].Data()[b], tg.start[0][2].Data()[b] = float32(p.X), float32(p.Y), float32(p.A)
		for k, si := range tg.steps {
			for i := range 4 {
				si.pts[0][i][0].Data()[b] = float32(p.X - reach - 2 + 0.7*float64(k+i))
				si.pts[0][i][1].Data()[b] = float32(p.Y + float64(b) - 1)
			}
			for q, kp := range kps[0] {
				x, y := p.world(kp[0], kp[1])
				si.targets[0].Data()[b*2*len(kps[0])+2*q], si.targets[0].Data()[b*2*len(kps[0])+2*q+1] = float32(x), float32(y)
			}
		}
	}
	tr := &trainer{d: d}
	for b := range batch {
		tr.fillDepths(tg, b)
	}
	got, _, err := tg.prog.Run()
	if err != nil {
		t.Fatal(err)
	}
	// The same unroll in Go: the loss is the keypoints' mean square error
	// in (shiftScale px)^2, averaged over steps.
	var sum float64
	var moved float64
	for b := range batch {
		st := tg.start[0]
		p0 := Pose{X: float64(st[0].Data()[b]), Y: float64(st[1].Data()[b]), A: float64(st[2].Data()[b])}
		p := p0
		for _, si := range tg.steps {
			var paths [1]effectorPath
			for i := range 4 {
				paths[0][i] = [2]float64{float64(si.pts[0][i][0].Data()[b]), float64(si.pts[0][i][1].Data()[b])}
			}
			d.features(tr.feat, 0, p, paths[:])
			var o [3]float32
			tr.mlps[0].Run(o[:], tr.feat)
			p = p.moved(d.shiftScale*float64(o[0]), d.shiftScale*float64(o[1]), d.turnScale*float64(o[2]))
			for _, kp := range kps[0] {
				x, y := p.world(kp[0], kp[1])
				x0, y0 := p0.world(kp[0], kp[1])
				sum += (x-x0)*(x-x0) + (y-y0)*(y-y0)
			}
		}
		moved = math.Max(moved, math.Hypot(p.X-p0.X, p.Y-p0.Y))
	}
	want := sum / float64(batch*2*len(kps[0])) / (d.shiftScale * d.shiftScale * unroll)
	if moved < 0.5 {
		t.Fatalf("the random network moved the object %.2f px: the check would not see a mismatch", moved)
	}
	if math.Abs(got-want) > 1e-3*want {
		t.Errorf("graph loss %.6g, forward unroll %.6g: the depths were computed at poses the graph does not reach", got, want)
	}
}
