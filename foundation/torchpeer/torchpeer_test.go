package torchpeer

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"dreamrank/foundation/ndarray"
)

func TestAllocEnv(t *testing.T) {
	_, jemallocErr := os.Stat(JemallocPath)
	for _, tc := range []struct {
		name    string
		alloc   string
		want    string // a variable the environment sets ("" none)
		wantErr bool
	}{
		{"default is tuned", "", "MALLOC_MMAP_THRESHOLD_=268435456", false},
		{"tuned", AllocTuned, "MALLOC_ARENA_MAX=2", false},
		{"plain glibc sets nothing", AllocGlibc, "", false},
		{"jemalloc preloads when installed", AllocJemalloc, "LD_PRELOAD=" + JemallocPath, jemallocErr != nil},
		{"unknown", "tcmalloc", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := AllocEnv(tc.alloc)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if tc.want == "" && len(env) != 0 || tc.want != "" && !slices.Contains(env, tc.want) {
				t.Errorf("env %v, want %q", env, tc.want)
			}
		})
	}
}

func TestFindPythonMissing(t *testing.T) {
	_, err := FindPython(context.Background(), "/nonexistent/python3")
	if !errors.Is(err, ErrNoTorch) || !strings.Contains(err.Error(), "deps.sh") {
		t.Errorf("err %v, want ErrNoTorch naming the setup script", err)
	}
}

// TestPeerProtocol runs a peer that echoes commands, through the real
// interpreter (skipped, even under CI, without torch: tests never install
// it; see worldmodel/bench's peer tests).
func TestPeerProtocol(t *testing.T) {
	if _, err := FindPython(context.Background(), ""); err != nil {
		t.Skip(err)
	}
	script := []byte(`import peerlib
def load(req):
    return {"n": int(req["x"].sum())}
peerlib.serve(load, {"echo": lambda c: {"v": c["v"]}, "fail": lambda c: 1 / 0})
`)
	req := map[string]any{"x": ndarray.NewFloat32([]float32{1, 2, 3}, 3)}
	var hello struct {
		N       int    `json:"n"`
		Threads int    `json:"threads"`
		Version string `json:"torch_version"`
	}
	p, err := Start(context.Background(), Options{Threads: 1}, script, req, &hello)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if hello.N != 6 || hello.Threads != 1 || hello.Version == "" {
		t.Errorf("hello %+v", hello)
	}
	var out struct{ V string }
	if err := p.Call(map[string]any{"op": "echo", "v": "hi"}, &out); err != nil || out.V != "hi" {
		t.Errorf("echo: %v %+v", err, out)
	}
	if err := p.Call(map[string]any{"op": "fail"}, &out); !errors.Is(err, ErrPeer) || !strings.Contains(err.Error(), "ZeroDivisionError") {
		t.Errorf("fail: %v", err)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"none", nil, -1},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Median(tt.xs); got != tt.want {
				t.Fatalf("Median(%v) = %v, want %v", tt.xs, got, tt.want)
			}
		})
	}
}

// Alternate runs both sides every round, the first side alternating, and
// stops at the first error.
func TestAlternate(t *testing.T) {
	var order []string
	side := func(name string) func() error {
		return func() error { order = append(order, name); return nil }
	}
	if err := Alternate(3, side("go"), side("peer")); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(order, " "), "go peer peer go go peer"; got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	boom := errors.New("boom")
	calls := 0
	err := Alternate(3, func() error { calls++; return boom }, func() error { calls++; return nil })
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("after an error: %v, %d calls; want boom after 1 call", err, calls)
	}
}

// AtOneAndBest measures batch 1, then best, and files each by its batch.
func TestAtOneAndBest(t *testing.T) {
	tests := []struct {
		name           string
		best           int
		wantB1, wantBB []float64
	}{
		{"best above 1", 8, []float64{1}, []float64{8}},
		{"best is 1", 1, []float64{1, 1}, []float64{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b1, bb []float64
			rate := func(b int) (float64, error) { return float64(b), nil }
			if err := AtOneAndBest(tt.best, rate, &b1, &bb); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b1, tt.wantB1) || !slices.Equal(bb, tt.wantBB) {
				t.Errorf("batch 1 %v, best %v; want %v, %v", b1, bb, tt.wantB1, tt.wantBB)
			}
		})
	}
}
