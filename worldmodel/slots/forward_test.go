package slots

import (
	"math"
	"math/rand/v2"
	"testing"
)

// models are the tiny synthetic model and the committed checkpoint.
func models(t *testing.T) map[string]*Model {
	t.Helper()
	committed, err := Load("../../checkpoints/pusht-slots")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Model{"tiny": tinyModel(t), "committed": committed}
}

// randomState is a state whose first passive object sits where the
// effector is about to touch it, so that its network runs.
func randomState(d *dynamics, rng *rand.Rand) (state, []float32) {
	s := d.lay.Shape
	var st state
	p0 := make([]float32, s.D)
	v := make([]float32, s.D)
	a := make([]float32, s.A)
	for i := range p0 {
		p0[i] = float32(100 + rng.Float64()*300)
		v[i] = float32(rng.NormFloat64() * 5)
	}
	for i := range a {
		a[i] = p0[min(i, s.D-1)] + float32(rng.NormFloat64()*30)
	}
	for k := range st.proprio {
		st.proprio[k] = make([]float32, s.D)
		for i := range p0 {
			st.proprio[k][i] = p0[i] - float32(k)*v[i]
		}
	}
	st.poses = make([]Pose, len(d.lay.Sprites))
	for e, ef := range d.eff {
		st.poses[d.lay.Effectors[e].Object] = ef.pose(p0)
	}
	at := st.poses[d.lay.Effectors[0].Object]
	for _, k := range d.lay.Passives {
		r := d.radius[0] + footprintRadius(d.scene.Sprites[k])*rng.Float64()
		ang := rng.Float64() * 2 * math.Pi
		st.poses[k] = Pose{at.X + r*math.Cos(ang), at.Y + r*math.Sin(ang), rng.Float64() * 2 * math.Pi}
	}
	return st, a
}

func cloneInto(s state) state {
	out := state{poses: append([]Pose(nil), s.poses...)}
	for k, p := range s.proprio {
		out.proprio[k] = append([]float32(nil), p...)
	}
	return out
}

// The OpenBLAS networks step like nn.MLP's, within float32 rounding of
// sums taken in another order: outputs about 1e-6 of their size apart, a
// shift of 1.92 px per unit; 1e-4 px (and rad) is a hundred times that.
// A room check that a pose 1e-6 px away lands on the other side of a pixel
// edge could cut a move short differently: none in these states.
func TestBLASMLPMatchesMLP(t *testing.T) {
	const tolerance = 1e-4
	for name, m := range models(t) {
		t.Run(name, func(t *testing.T) {
			d := m.d
			plain, fast := d.stepper(), d.stepper()
			plain.mlps = d.newMLPs(true)
			rng := rand.New(rand.NewPCG(8, 9))
			worst, moved := 0.0, 0
			for range 500 {
				st, a := randomState(d, rng)
				s1, s2 := cloneInto(st), cloneInto(st)
				d.step(plain, &s1, a)
				d.step(fast, &s2, a)
				for k := range s1.poses {
					worst = max(worst, math.Abs(s1.poses[k].X-s2.poses[k].X), math.Abs(s1.poses[k].Y-s2.poses[k].Y), math.Abs(s1.poses[k].A-s2.poses[k].A))
				}
				for _, k := range d.lay.Passives {
					if s1.poses[k] != st.poses[k] {
						moved++
						break
					}
				}
			}
			t.Logf("%d of 500 states moved a passive object; poses at most %.3g apart", moved, worst)
			if moved < 100 || worst > tolerance {
				t.Errorf("%d states moved an object (want 100 or more); poses %.3g apart (tolerance %g)", moved, worst, tolerance)
			}
		})
	}
}

// An imagined step allocates only the frame it returns.
func TestStepAllocatesOnlyTheFrame(t *testing.T) {
	m, err := Load("../../checkpoints/pusht-slots")
	if err != nil {
		t.Fatal(err)
	}
	d := m.d
	w := d.stepper()
	st, a := randomState(d, rand.New(rand.NewPCG(1, 2)))
	if n := testing.AllocsPerRun(100, func() { d.step(w, &st, a) }); n != 0 {
		t.Errorf("dynamics step: %.1f allocations, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { d.scene.Render(st.poses) }); n != 1 {
		t.Errorf("render: %.1f allocations, want 1 (the frame)", n)
	}
}
