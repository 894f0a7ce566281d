package latent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

const committedCheckpoint = "../../checkpoints/pusht-wm"

// loadCommitted opens the committed checkpoint or skips the test.
func loadCommitted(t *testing.T) *Model {
	t.Helper()
	m, err := Load(committedCheckpoint)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoCheckpoint) {
		t.Skip("no committed checkpoint")
	}
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// scenes are rendered PushT contexts (agent and block at random poses) and
// actions near the agent: the inputs the model sees in evaluations.
func scenes(t testing.TB, m *Model, batch, chunk int, seed uint64) ([][]worldmodel.Observation, [][][]float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	ctxs := make([][]worldmodel.Observation, batch)
	acts := make([][][]float32, batch)
	for i := range ctxs {
		agent := pusht.Vec2{X: 80 + rng.Float64()*350, Y: 80 + rng.Float64()*350}
		block := pusht.Pose{X: 120 + rng.Float64()*270, Y: 120 + rng.Float64()*270, Angle: rng.Float64() * 2 * math.Pi}
		frame, err := pusht.RenderState(agent, block, m.cfg.FrameH)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < m.cfg.ContextLen; k++ {
			ctxs[i] = append(ctxs[i], worldmodel.Observation{Frame: frame, Proprio: []float32{float32(agent.X), float32(agent.Y)}})
		}
		// A push towards a random target: the agent moves and may hit the block.
		target := [2]float64{block.X + rng.NormFloat64()*40, block.Y + rng.NormFloat64()*40}
		for k := 0; k < chunk; k++ {
			acts[i] = append(acts[i], []float32{float32(target[0]), float32(target[1])})
		}
	}
	return ctxs, acts
}

// The fast forward pass predicts what the gorgonia graph predicts on the
// committed checkpoint, one step from the same inputs, for several batch
// sizes; and every episode's values are bit-identical whatever the batch.
//
// Graph vs fast, within 1e-5 (frame values 0..1): the two sum the same
// products in other orders (gonum's or OpenBLAS's kernels, whichever the
// CPU gets), and float32 sums of K terms differ by about K*eps relative;
// K is at most 432 here, eps 6e-8, so each layer adds up to about 3e-5 of
// its terms' magnitude, mostly cancelling: measured 6e-7 to 1.2e-6 with
// OpenBLAS's Prescott, Sandybridge, Haswell and SkylakeX kernels. A wrong
// weight, channel or episode moves values by 1e-2 and more.
//
// Batch invariance, bit for bit: it holds by construction, not by luck of
// the kernels (tileRows: every episode's gemms have the same shapes at any
// batch), so any difference is a bug of the fast pass.
func TestFastMatchesGraph(t *testing.T) {
	m := loadCommitted(t)
	h, w := m.cfg.FrameH, m.cfg.FrameW
	n := h * w
	g, err := newInferGraph(m.net, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	const maxBatch = 5
	ctxs, acts := scenes(t, m, maxBatch, 1, 1)
	eps := make([]*episodeState, maxBatch)
	next := make([][2]float32, maxBatch)
	want := make([][]float32, maxBatch)
	for i := range eps {
		eps[i] = &episodeState{frame: ctxs[i][0].Frame, hist: [3][2]float32{vec2(ctxs[i][0].Proprio), vec2(ctxs[i][0].Proprio), vec2(ctxs[i][0].Proprio)}}
		next[i] = m.head.predict(eps[i].hist, acts[i][0], m.cfg.Table)
		toCHW(g.rgbT.Data().([]float32), eps[i].frame, w, 0, 0, h, w)
		fillPlanes(g.planeT.Data().([]float32), h, w, 0, 0, eps[i].hist[0], next[i], acts[i][0], m.cfg)
		fillGate(g.gateT.Data().([]float32), h, w, 0, 0, eps[i].hist[0], next[i], m.cfg)
		out, err := g.run()
		if err != nil {
			t.Fatal(err)
		}
		want[i] = append([]float32(nil), out...)
	}
	// fast predicts episodes first..first+batch-1 in one batch.
	fast := func(first, batch int) [][]float32 {
		f := newFastNet(m.net, batch)
		f.setBatch(batch)
		for j := 0; j < batch; j++ {
			m.fillFast(f, j, eps[first+j], next[first+j], acts[first+j][0])
		}
		if err := f.forward(); err != nil {
			t.Fatal(err)
		}
		out := make([][]float32, batch)
		for j := range out {
			for c := 0; c < 3; c++ {
				out[j] = append(out[j], f.pred.channel(c)[j*n:][:n]...)
			}
		}
		return out
	}
	alone := make([][]float32, maxBatch) // per episode, predicted in a batch of its own
	for j := range alone {
		alone[j] = fast(j, 1)[0]
	}
	for _, batch := range []int{1, 2, 3, maxBatch} {
		maxDiff := 0.0
		for j, got := range fast(0, batch) {
			for i := range got {
				maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[j][i])))
				if math.Float32bits(got[i]) != math.Float32bits(alone[j][i]) {
					t.Fatalf("batch %d: episode %d differs from its prediction alone at %d: %v vs %v", batch, j, i, got[i], alone[j][i])
				}
			}
		}
		t.Logf("batch %d: max |fast - graph| = %.3g (frame values 0..1)", batch, maxDiff)
		if maxDiff > 1e-5 {
			t.Errorf("batch %d: max |fast - graph| = %g", batch, maxDiff)
		}
	}
}

// Every layer's tile divides an image's output rows, for the committed
// and the tiny configuration: the batch invariance above rests on it.
func TestTilesKeepToOneImage(t *testing.T) {
	tests := []struct {
		name string
		cfg  ModelConfig
	}{
		{"default", DefaultModelConfig()},
		{"tiny", tinyConfig()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			f := newFastNet(m.net, 3)
			for _, c := range m.net.convs {
				g := f.geom(c)
				oh, ow := g.outHW()
				step := f.tileRows(g)
				if step < 1 || oh%step != 0 || (step > 1 && g.kdim()*ow*step > tileFloats) {
					t.Errorf("%s: %d rows per tile for %d output rows of %d floats each", c.name, step, oh, g.kdim()*ow)
				}
			}
		})
	}
}

// Multi-step rollouts through Rollout.Step agree between the fast pass and
// the graph: predicted frames (bytes, fed back every step) stay equal but
// for rare rounding flips. Why flips at all: the float frames differ by
// about 1e-6 (TestFastMatchesGraph), which moves a byte only where
// 255*value lies that close to a rounding boundary, then carries through
// the feedback; so at most 1 byte in 1e4 may differ, by at most 8 (0 on
// the Prescott to SkylakeX kernels so far). A wrong pass differs in most
// of the gated pixels.
func TestFastRolloutMatchesGraph(t *testing.T) {
	m := loadCommitted(t)
	const batch, chunk, chunks = 3, 4, 2
	ctxs, acts := scenes(t, m, batch, chunk, 2)
	fast, graph := rolloutFrames(t, m, "fast", ctxs, acts, chunks), rolloutFrames(t, m, "graph", ctxs, acts, chunks)
	checkRollouts(t, "fast", "graph", fast, graph)
}

// checkRollouts compares two passes' rollouts of the same inputs: the
// proprio exactly (the same linear head), the frames to at most 1 byte in
// 1e4 differing, by at most 8 (TestFastRolloutMatchesGraph says why).
func checkRollouts(t *testing.T, nameA, nameB string, a, b [][]worldmodel.Observation) {
	t.Helper()
	differ, maxDiff, total := 0, 0, 0
	for i := range a {
		for k := range a[i] {
			fa, fb := a[i][k].Frame, b[i][k].Frame
			for p := range fa {
				d := int(fa[p]) - int(fb[p])
				if d != 0 {
					differ++
					maxDiff = max(maxDiff, d, -d)
				}
			}
			total += len(fa)
			if a[i][k].Proprio[0] != b[i][k].Proprio[0] || a[i][k].Proprio[1] != b[i][k].Proprio[1] {
				t.Fatalf("episode %d step %d: proprio %v (%s) vs %v (%s)", i, k, a[i][k].Proprio, nameA, b[i][k].Proprio, nameB)
			}
		}
	}
	t.Logf("%s vs %s, %d-step rollouts, batch %d: %d of %d frame bytes differ, by at most %d", nameA, nameB, len(a[0]), len(a), differ, total, maxDiff)
	if float64(differ) > 1e-4*float64(total) || maxDiff > 8 {
		t.Errorf("%s vs %s: %d of %d frame bytes differ, by at most %d", nameA, nameB, differ, total, maxDiff)
	}
}

// im2colStride1 writes what the row-by-row im2col writes, for tiles that
// start and end inside images and span several of them.
func TestIm2colStride1(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, g := range []convGeom{
		{cin: 2, cout: 1, k: 3, stride: 1, pad: 1, h: 5, w: 4},
		{cin: 3, cout: 1, k: 5, stride: 1, pad: 2, h: 6, w: 7},
		{cin: 1, cout: 1, k: 1, stride: 1, pad: 0, h: 3, w: 3},
	} {
		const batch = 3
		src := planes{data: make([]float32, g.cin*batch*g.h*g.w), ld: batch * g.h * g.w, h: g.h, w: g.w}
		for i := range src.data {
			src.data[i] = rng.Float32() + 1 // never zero: zeros come from padding
		}
		rows := batch * g.h
		for _, span := range [][2]int{{0, rows}, {1, rows - 2}, {g.h - 1, g.h + 1}, {2, 3}} {
			n := (span[1] - span[0]) * g.w
			want := make([]float32, g.kdim()*n)
			got := make([]float32, g.kdim()*n)
			for i := range got {
				got[i] = -1 // every element must be written
			}
			for r := span[0]; r < span[1]; r++ { // reference: one row at a time
				oy, b := r%g.h, r/g.h
				for ci := 0; ci < g.cin; ci++ {
					for ky := 0; ky < g.k; ky++ {
						for kx := 0; kx < g.k; kx++ {
							row := want[((ci*g.k+ky)*g.k+kx)*n+(r-span[0])*g.w:][:g.w]
							iy := oy + ky - g.pad
							if iy >= 0 && iy < g.h {
								shiftRow(row, src.channel(ci)[b*g.h*g.w+iy*g.w:][:g.w], kx-g.pad, 1)
							}
						}
					}
				}
			}
			im2colStride1(g, src, 0, span[0], span[1], got)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%+v rows %v: element %d = %v, want %v", g, span, i, got[i], want[i])
				}
			}
		}
	}
}

// im2colStride2 writes what the general row-by-row im2col writes.
func TestIm2colStride2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	g := convGeom{cin: 2, cout: 1, k: 3, stride: 2, pad: 1, h: 6, w: 8}
	const batch = 2
	src := planes{data: make([]float32, g.cin*batch*g.h*g.w), ld: batch * g.h * g.w, h: g.h, w: g.w}
	for i := range src.data {
		src.data[i] = rng.Float32() + 1
	}
	oh, ow := g.outHW()
	for _, span := range [][2]int{{0, batch * oh}, {1, 4}} {
		n := (span[1] - span[0]) * ow
		want, got := make([]float32, g.kdim()*n), make([]float32, g.kdim()*n)
		for i := range got {
			got[i] = -1
		}
		for r := span[0]; r < span[1]; r++ {
			oy, b := r%oh, r/oh
			for ci := 0; ci < g.cin; ci++ {
				for ky := 0; ky < 3; ky++ {
					for kx := 0; kx < 3; kx++ {
						row := want[((ci*3+ky)*3+kx)*n+(r-span[0])*ow:][:ow]
						if iy := 2*oy + ky - 1; iy >= 0 && iy < g.h {
							shiftRow(row, src.channel(ci)[b*g.h*g.w+iy*g.w:][:g.w], kx-1, 2)
						}
					}
				}
			}
		}
		im2colStride2(g, src, 0, span[0], span[1], got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("rows %v: element %d = %v, want %v", span, i, got[i], want[i])
			}
		}
	}
}

// The backend's inference option picks the forward pass (fast by default).
func TestInferenceOption(t *testing.T) {
	if _, err := os.Stat(committedCheckpoint); err != nil {
		t.Skip("no committed checkpoint")
	}
	tests := []struct {
		name, value, want string
		wantErr           bool
	}{
		{"default", "", "dnnl", false},
		{"dnnl", "dnnl", "dnnl", false},
		{"fast", "fast", "fast", false},
		{"graph", "graph", "graph", false},
		{"unknown", "gpu", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := worldmodel.Options{"checkpoint": committedCheckpoint}
			if tc.value != "" {
				opts["inference"] = tc.value
			}
			m, err := worldmodel.Open(context.Background(), Name, opts)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.(*Model).Describe()["inference"]; got != tc.want {
				t.Errorf("inference = %q, want %q", got, tc.want)
			}
		})
	}
	m := loadCommitted(t)
	if got := m.Reference().(worldmodel.Describer).Describe()["inference"]; got != "graph" {
		t.Errorf("Reference() describes inference %q", got)
	}
}

// Rollouts stepped concurrently on one model (each on its own fast pass,
// sharing the weights and the openblas.Serial section) predict what they
// predict alone.
func TestFastConcurrentRollouts(t *testing.T) {
	m, err := New(tinyConfig(), 6)
	if err != nil {
		t.Fatal(err)
	}
	randomise(m, 6)
	const n = 3
	want := make([][][]worldmodel.Observation, n)
	for i := range want {
		want[i] = predictAll(t, m, uint64(10+i))
	}
	for i := range n {
		t.Run(fmt.Sprint("rollout", i), func(t *testing.T) {
			t.Parallel() // the subtests step their rollouts at the same time
			if !modeltest.Equal(predictAll(t, m, uint64(10+i)), want[i]) {
				t.Fatal("differs when stepped concurrently")
			}
		})
	}
}

// rolloutFrames steps a rollout of ctxs through chunks chunks of acts on
// the forward pass mode.
func rolloutFrames(t *testing.T, m *Model, mode string, ctxs [][]worldmodel.Observation, acts [][][]float32, chunks int) [][]worldmodel.Observation {
	t.Helper()
	if err := m.SetInference(mode); err != nil {
		t.Fatal(err)
	}
	defer m.SetInference("")
	r, err := m.Start(context.Background(), ctxs)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	all := make([][]worldmodel.Observation, len(ctxs))
	for range chunks {
		out, err := r.Step(context.Background(), acts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range out {
			all[i] = append(all[i], out[i]...)
		}
	}
	return all
}
