package worldmodel

import (
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGorgoniaRuns guards the toolchain fix gorgonia needs on Go 1.26 (the
// pinned go4.org/unsafe/assume-no-moving-gc): without it every binary that
// links gorgonia panics at start. It also checks a gradient end to end.
func TestGorgoniaRuns(t *testing.T) {
	g := G.NewGraph()
	w := G.NewMatrix(g, tensor.Float32, G.WithShape(2, 2), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 2, 3, 4}))))
	x := G.NewVector(g, tensor.Float32, G.WithShape(2), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float32{1, 1}))))
	y := G.Must(G.Mul(w, x))
	loss := G.Must(G.Sum(y))
	if _, err := G.Grad(loss, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	if got := y.Value().Data().([]float32); got[0] != 3 || got[1] != 7 {
		t.Fatalf("w·x = %v, want [3 7]", got)
	}
	grad, err := w.Grad()
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range grad.Data().([]float32) {
		if v != 1 {
			t.Fatalf("d sum(w·x)/dw[%d] = %v, want 1", i, v)
		}
	}
}
