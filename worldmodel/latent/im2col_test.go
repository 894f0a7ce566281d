package latent

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func randTensor(rng *rand.Rand, shape ...int) *tensor.Dense {
	n := 1
	for _, s := range shape {
		n *= s
	}
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(d))
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v, want %v (bit-identical)", what, i, got[i], want[i])
		}
	}
}

// im2col and its gradient (col2im) are bit-identical to gorgonia's Im2Col
// on the convolution shapes the net uses.
func TestIm2colMatchesGorgonia(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct{ b, c, h, w, k, pad, stride int }{
		{1, 6, 96, 96, 3, 1, 2}, {3, 6, 56, 56, 3, 1, 2}, {2, 16, 28, 28, 3, 1, 2},
		{2, 32, 14, 14, 3, 1, 1}, {1, 48, 28, 28, 3, 1, 1}, {2, 22, 56, 56, 3, 1, 1},
		{2, 16, 56, 56, 1, 0, 1}, {1, 5, 7, 9, 3, 1, 2}, {1, 4, 7, 5, 3, 1, 1},
	} {
		x := randTensor(rng, c.b, c.c, c.h, c.w)
		var cols, grads [2][]float32
		for i, fast := range []bool{false, true} {
			g := G.NewGraph()
			xn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(x.Shape()...), G.WithName("x"), G.WithValue(x.Clone()))
			var col *G.Node
			var err error
			if fast {
				col, err = im2colNode(xn, c.k, c.pad, c.stride)
			} else {
				col, err = G.Im2Col(xn, tensor.Shape{c.k, c.k}, []int{c.pad, c.pad}, []int{c.stride, c.stride}, []int{1, 1})
			}
			if err != nil {
				t.Fatal(err)
			}
			r := randTensor(rand.New(rand.NewPCG(3, 4)), col.Shape()...)
			rn := G.NewTensor(g, tensor.Float32, 4, G.WithShape(col.Shape()...), G.WithName("r"), G.WithValue(r))
			prod, err := G.HadamardProd(col, rn)
			if err != nil {
				t.Fatal(err)
			}
			cost, err := G.Sum(prod)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := G.Grad(cost, xn); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			gv, err := xn.Grad()
			if err != nil {
				t.Fatal(err)
			}
			cols[i] = append([]float32(nil), col.Value().Data().([]float32)...)
			grads[i] = append([]float32(nil), gv.Data().([]float32)...)
			vm.Close()
		}
		sameBits(t, "im2col", cols[1], cols[0])
		sameBits(t, "col2im", grads[1], grads[0])
	}
}

// The committed checkpoint predicts bit-identically with gorgonia's Conv2d
// and with conv2d (im2col, matmul, toNCHW), and a training step gives
// bit-identical loss and gradients.
func TestFastIm2colBitIdentical(t *testing.T) {
	defer func(v bool) { useFastIm2col = v }(useFastIm2col)
	n := newNet(DefaultModelConfig(), 7)
	if m, err := Load("../../checkpoints/pusht-wm"); err == nil {
		n = m.net
	} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrNoCheckpoint) {
		t.Fatal(err)
	} else {
		t.Log("no committed checkpoint; using a random net")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	fill := func(d *tensor.Dense) {
		v := d.Data().([]float32)
		for i := range v {
			v[i] = rng.Float32()
		}
	}
	var outs [2][]float32
	var losses [2]float64
	var grads [2][][]float32
	for i, fast := range []bool{false, true} {
		useFastIm2col = fast
		rng = rand.New(rand.NewPCG(5, 6))
		ig, err := newInferGraph(n, 2)
		if err != nil {
			t.Fatal(err)
		}
		fill(ig.rgbT)
		fill(ig.planeT)
		fill(ig.gateT)
		out, err := ig.run()
		if err != nil {
			t.Fatal(err)
		}
		outs[i] = append([]float32(nil), out...)
		ig.close()

		tg, err := newTrainGraph(n, 2, 2, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		fill(tg.firstT)
		for k := range tg.planesT {
			fill(tg.planesT[k])
			fill(tg.targetT[k])
			fill(tg.weightT[k])
			fill(tg.gateT[k])
		}
		if losses[i], err = tg.run(); err != nil {
			t.Fatal(err)
		}
		gs, err := tg.grads()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			grads[i] = append(grads[i], append([]float32(nil), g...))
		}
		tg.close()
	}
	sameBits(t, "prediction", outs[1], outs[0])
	if math.Float64bits(losses[1]) != math.Float64bits(losses[0]) {
		t.Fatalf("loss %v, want %v", losses[1], losses[0])
	}
	for j := range grads[0] {
		sameBits(t, "gradient of "+n.params[j].name, grads[1][j], grads[0][j])
	}
}
