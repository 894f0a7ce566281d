package bench

import (
	"context"
	"math"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/policy/zoo"
)

// TestDivergence: the unperturbed re-run reproduces every outcome (the
// simulator and the arms are deterministic, which the whole study rests
// on), an arm that never succeeds never does, and the pose reader's error
// on first frames is sub-pixel.
func TestDivergence(t *testing.T) {
	if testing.Short() {
		t.Skip("full-horizon episodes")
	}
	z, err := zoo.Parse("test", []byte(`arms:
  - {name: anchor, backend: scripted, options: {quality: "3", chunk: "8"}}
  - {name: still, backend: bench-test-still}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Divergence(context.Background(), DivergenceConfig{Zoo: z, Seeds: []int64{100000, 100001}, Sigmas: []float64{0, 5}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Levels) != 2 || len(rep.Rates) != 2 {
		t.Fatalf("levels %+v, rates %v", rep.Levels, rep.Rates)
	}
	if a := rep.Levels[0].Agreement; a != 1 {
		t.Errorf("sigma 0: agreement %v, want 1 (a re-run of the true start)", a)
	}
	for _, l := range rep.Levels {
		if l.Rates[1] != 0 {
			t.Errorf("sigma %g: the still arm succeeded (rate %v)", l.SigmaPx, l.Rates[1])
		}
	}
	// The reader reads rendered first frames to about 0.6 table pixels;
	// 2 px would mean it lost the block.
	if rep.ReaderErrPx <= 0 || rep.ReaderErrPx > 2 {
		t.Errorf("reader error %v px, want in (0, 2]", rep.ReaderErrPx)
	}
}

// TestPerturb: the same stream and seed give the same start; over many
// seeds the offsets have the asked spread.
func TestPerturb(t *testing.T) {
	b := pusht.Pose{X: 256, Y: 256, Angle: 1}
	if Perturb(b, 2, 1, 7) != Perturb(b, 2, 1, 7) {
		t.Fatal("Perturb is not a function of (stream, seed)")
	}
	if Perturb(b, 2, 1, 7) == Perturb(b, 2, 2, 7) {
		t.Error("two streams gave the same offset")
	}
	const n, sigma = 4000, 3.0
	var sx, sa float64
	for s := range int64(n) {
		p := Perturb(b, sigma, 1, s)
		sx += (p.X - b.X) * (p.X - b.X)
		sa += math.Pow(math.Remainder(p.Angle-b.Angle, 2*math.Pi), 2)
	}
	// The standard deviation's estimate from 4000 draws is within 5% with
	// overwhelming probability (its relative error is about 1.1%).
	if got := math.Sqrt(sx / n); math.Abs(got-sigma) > 0.05*sigma {
		t.Errorf("x spread %v, want %v", got, sigma)
	}
	if got, want := math.Sqrt(sa/n), sigma/ArmPx; math.Abs(got-want) > 0.05*want {
		t.Errorf("angle spread %v, want %v", got, want)
	}
}
