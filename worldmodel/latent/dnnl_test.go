package latent

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"dreamrank/worldmodel/modeltest"
)

// dnnlInputs are the committed checkpoint's one-step inputs for episodes
// of rendered scenes (as TestFastMatchesGraph's).
func dnnlInputs(t *testing.T, m *Model, n int) ([]*episodeState, [][2]float32, [][]float32) {
	t.Helper()
	ctxs, acts := scenes(t, m, n, 1, 1)
	eps := make([]*episodeState, n)
	next := make([][2]float32, n)
	a := make([][]float32, n)
	for i := range eps {
		p := vec2(ctxs[i][0].Proprio)
		eps[i] = &episodeState{frame: ctxs[i][0].Frame, hist: [3][2]float32{p, p, p}}
		a[i] = acts[i][0]
		next[i] = m.head.predict(eps[i].hist, a[i], m.cfg.Table)
	}
	return eps, next, a
}

// The oneDNN pass predicts what the fast pass predicts on the committed
// checkpoint, one step from the same inputs, for several batch sizes.
//
// Within 1e-5 of the 0..1 frame, for the reason fast and graph agree to it
// (TestFastMatchesGraph): both sum the same products in other orders
// (oneDNN's direct kernels also split the concatenated layers' sums in
// two), float32 sums of K <= 432 terms differ by about K*eps relative per
// layer, mostly cancelling. A wrong weight, channel, layout or episode
// moves values by 1e-2 and more.
//
// Batch independence, bit for bit: oneDNN computes an output with the same
// kernel and the same order of its sums whatever the batch (its blocking
// follows the image, not the batch); the contract test asks for it too.
func TestDnnlMatchesFast(t *testing.T) {
	m := loadCommitted(t)
	n := m.cfg.FrameH * m.cfg.FrameW
	const maxBatch = 5
	eps, next, acts := dnnlInputs(t, m, maxBatch)
	f := newFastNet(m.net, maxBatch)
	f.setBatch(maxBatch)
	for j := range eps {
		m.fillFast(f, j, eps[j], next[j], acts[j])
	}
	if err := f.forward(); err != nil {
		t.Fatal(err)
	}
	want := make([][]float32, maxBatch)
	for j := range want {
		want[j] = make([]float32, 3*n) // channels last, as predDnnl
		for c := 0; c < 3; c++ {
			for i, v := range f.pred.channel(c)[j*n:][:n] {
				want[j][3*i+c] = v
			}
		}
	}
	dnnlPass := func(first, batch int) [][]float32 {
		d, err := newDnnlNet(m.net, batch)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		for j := 0; j < batch; j++ {
			m.fillDnnl(d, j, eps[first+j], next[first+j], acts[first+j])
		}
		if err := d.forward(); err != nil {
			t.Fatal(err)
		}
		out := make([][]float32, batch)
		for j := range out {
			out[j] = make([]float32, 3*n)
			m.predDnnl(d, j, out[j])
		}
		return out
	}
	alone := make([][]float32, maxBatch)
	for j := range alone {
		alone[j] = dnnlPass(j, 1)[0]
	}
	for _, batch := range []int{1, 2, 3, maxBatch} {
		maxDiff := 0.0
		for j, got := range dnnlPass(0, batch) {
			for i := range got {
				maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[j][i])))
				if math.Float32bits(got[i]) != math.Float32bits(alone[j][i]) {
					t.Fatalf("batch %d: episode %d differs from its prediction alone at %d: %v vs %v", batch, j, i, got[i], alone[j][i])
				}
			}
		}
		t.Logf("batch %d: max |dnnl - fast| = %.3g (frame values 0..1)", batch, maxDiff)
		if maxDiff > 1e-5 {
			t.Errorf("batch %d: max |dnnl - fast| = %g", batch, maxDiff)
		}
	}
}

// Every layer gets an optimised oneDNN implementation (not the reference
// loops); with AVX-512 (oneDNN's channels-last kernels for every layer)
// the pass has no layout reorder at all: 15 primitives, the 13
// convolutions and the 2 depth-to-space shuffles of the sub-pixel layers.
// Other instruction sets may need some, logged.
func TestDnnlPlan(t *testing.T) {
	m := loadCommitted(t)
	d, err := newDnnlNet(m.net, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	reorders := 0
	for _, op := range d.plan.Ops() {
		impl := op.Impl()
		t.Logf("%-22s %-28s src %s -> dst %s", op.Name(), impl, op.Src(), op.Dst())
		if strings.HasPrefix(impl, "ref") {
			t.Errorf("%s: reference implementation %q", op.Name(), impl)
		}
		if strings.HasSuffix(op.Name(), " src") {
			reorders++
		}
	}
	t.Logf("%d steps, %d of them reorders", d.plan.Len(), reorders)
	if impl := d.plan.Ops()[0].Impl(); strings.Contains(impl, "avx512") && reorders > 0 {
		t.Errorf("%d reorders with %s kernels", reorders, impl)
	}
}

// Multi-step rollouts through Rollout.Step agree between the oneDNN pass
// and both references, as the fast pass and the graph agree
// (checkRollouts), over a batch larger than one oneDNN group.
func TestDnnlRolloutMatches(t *testing.T) {
	m := loadCommitted(t)
	const batch, chunk, chunks = maxDnnlBatch + 2, 4, 2
	ctxs, acts := scenes(t, m, batch, chunk, 2)
	dn := rolloutFrames(t, m, "dnnl", ctxs, acts, chunks)
	tests := []struct{ name string }{{"fast"}, {"graph"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkRollouts(t, "dnnl", tc.name, dn, rolloutFrames(t, m, tc.name, ctxs, acts, chunks))
		})
	}
}

// A forward pass allocates nothing.
func TestDnnlForwardAllocatesNothing(t *testing.T) {
	m, err := New(tinyConfig(), 3)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDnnlNet(m.net, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if n := testing.AllocsPerRun(20, func() {
		if err := d.forward(); err != nil {
			t.Fatal(err)
		}
		if err := d.sync(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per forward pass and weight check", n)
	}
}

// The pass sees weights changed after it was built (at the next Step),
// as the fast pass reads them at every step.
func TestDnnlSeesNewWeights(t *testing.T) {
	m, err := New(tinyConfig(), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	before := predictAll(t, m, 5) // builds and pools the passes
	randomise(m, 7)
	if err := m.SetInference("fast"); err != nil {
		t.Fatal(err)
	}
	want := predictAll(t, m, 5)
	m.SetInference("dnnl")
	got := predictAll(t, m, 5)
	if modeltest.Equal(before, got) {
		t.Fatal("predictions did not change with the weights")
	}
	checkRollouts(t, "dnnl", "fast", got, want)
}

// Batches are cut into even groups, at least one per runner, none larger
// than maxDnnlBatch, covering every episode once.
func TestDnnlGroups(t *testing.T) {
	tests := []struct {
		name       string
		n, runners int
		want       []int
	}{
		{"one episode", 1, 2, []int{0, 1}},
		{"two on two runners", 2, 2, []int{0, 1, 2}},
		{"three on two runners", 3, 2, []int{0, 1, 3}},
		{"eight", 8, 2, []int{0, 2, 4, 6, 8}},
		{"nine", 9, 2, []int{0, 1, 3, 5, 7, 9}},
		{"four on one runner", 4, 1, []int{0, 2, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := dnnlGroups(tc.n, tc.runners)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("dnnlGroups(%d, %d) = %v, want %v", tc.n, tc.runners, got, tc.want)
			}
			for i := 0; i+1 < len(got); i++ {
				if size := got[i+1] - got[i]; size < 1 || size > maxDnnlBatch {
					t.Errorf("group %d of %d episodes", i, size)
				}
			}
		})
	}
}
