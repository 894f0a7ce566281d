package nn

import (
	"math"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestProgramGradients builds loss = mean(x W + b) and checks the
// gradients against their closed form, with b frozen.
func TestProgramGradients(t *testing.T) {
	ps := &Params{}
	ps.Add("l.w", []int{2, 1}, []float32{0.5, -1})
	ps.Add("l.b", []int{1}, []float32{0.25})
	BuildMu.Lock()
	g := G.NewGraph()
	b := ps.Bind(g)
	x := NewInput(g, "x", 3, 2)
	copy(x.Data(), []float32{1, 2, 3, 4, 5, 6})
	y, err := b.Linear("l", x.N)
	if err != nil {
		t.Fatal(err)
	}
	loss, err := G.Mean(y)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(b, ps, loss, func(name string) bool { return name == "l.w" })
	BuildMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	got, grads, err := prog.Run()
	if err != nil {
		t.Fatal(err)
	}
	// Rows give 0.5-2+0.25, 1.5-4+0.25, 2.5-6+0.25: mean -2.25.
	if math.Abs(got+2.25) > 1e-6 {
		t.Errorf("loss %v, want -2.25", got)
	}
	// d mean / dW = column means of x: (3, 4); b is frozen (nil).
	if !slices.Equal(grads[0], []float32{3, 4}) || grads[1] != nil {
		t.Errorf("grads %v", grads)
	}
}

func TestAdamFreezesNilGradients(t *testing.T) {
	ps := &Params{}
	ps.Add("a", []int{2}, []float32{1, 2})
	ps.Add("b", []int{2}, []float32{3, 4})
	opt := NewAdam(ps)
	opt.Update(ps, [][]float32{{1, -1}, nil}, 0.1, 0)
	if !slices.Equal(ps.Get("b").Data(), []float32{3, 4}) {
		t.Errorf("frozen parameter moved: %v", ps.Get("b").Data())
	}
	// Adam's first step moves each weight by lr against its gradient's sign.
	a := ps.Get("a").Data()
	if math.Abs(float64(a[0])-0.9) > 1e-5 || math.Abs(float64(a[1])-2.1) > 1e-5 {
		t.Errorf("first step gave %v, want [0.9 2.1]", a)
	}
	flat := opt.Flat()
	fresh := NewAdam(ps)
	if !fresh.Restore(flat, opt.Steps) || !slices.Equal(fresh.Flat(), flat) || fresh.Restore(flat[:3], 1) {
		t.Error("Flat/Restore round trip")
	}
}
