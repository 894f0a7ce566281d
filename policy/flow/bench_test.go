package flow

import (
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
)

// BenchmarkTrainStep times one optimizer step of the default model at
// batch 64 on random inputs.
func BenchmarkTrainStep(b *testing.B) {
	G.Use(openblas.Implementation{})
	tensor.Use(openblas.Implementation{})
	c := DefaultModelConfig()
	ps := newParams(c, 1)
	tg, err := newTrainGraph(ps, c, 64, false, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer tg.close()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range []nn.Input{tg.img, tg.proprio, tg.xt, tg.temb, tg.ctx, tg.target} {
		for i := range in.Data() {
			in.Data()[i] = float32(rng.Float64())
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tg.prog.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
