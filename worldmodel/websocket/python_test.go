package websocket

import (
	"context"
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"dreamrank/foundation/peer"
	"dreamrank/foundation/peer/peertest"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
	"dreamrank/worldmodel/modeltest"
)

const pythonExample = "../../examples/python/worldmodel_server.py"

// The Python example (examples/python/worldmodel_server.py) keeps the
// contract, moves the agent as it documents, refuses a client without its
// key, and dying mid-session fails the step waiting on it at once.
func TestPythonExample(t *testing.T) {
	p := peertest.Start(t, pythonExample, "--port", "0", "--api-key", "k")
	if _, err := Dial(context.Background(), p.URL, Options{}); !errors.Is(err, peer.ErrUnauthorized) {
		t.Fatalf("no key: %v, want ErrUnauthorized", err)
	}
	// Its errors carry codes: a request it cannot take is bad input.
	c, err := peer.Dial(context.Background(), p.URL, peer.DialOptions{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(context.Background(), map[string]any{"type": "predict"})
	c.Close()
	if !errors.Is(err, worldmodel.ErrBadInput) {
		t.Fatalf("an unknown request: %v, want bad_request", err)
	}
	m := dial(t, p.URL, Options{APIKey: "k"})
	if m.Spec() != copylast.PushTSpec() || m.Describe()["backend"] != "python-toy-pusht" {
		t.Fatalf("spec %+v, describe %v", m.Spec(), m.Describe())
	}
	modeltest.Contract(t, m)

	// From a real PushT frame, the agent covers half the way to its target
	// each step, and the frame shows it moving.
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100000)
	o := env.Observe()
	start := worldmodel.Observation{Frame: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}
	ctx := context.Background()
	r, err := m.Start(ctx, [][]worldmodel.Observation{{start}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	target := []float32{start.Proprio[0] + 40, start.Proprio[1] + 20}
	pred, err := r.Step(ctx, [][][]float32{{target, target}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range [][2]float64{{20, 10}, {30, 15}} {
		got := pred[0][k].Proprio
		if math.Abs(float64(got[0]-start.Proprio[0])-want[0]) > 1e-3 || math.Abs(float64(got[1]-start.Proprio[1])-want[1]) > 1e-3 {
			t.Fatalf("step %d: agent at %v from %v, want moved by %v", k, got, start.Proprio, want)
		}
	}
	if string(pred[0][1].Frame) == string(start.Frame) {
		t.Fatal("the frame did not change as the agent moved")
	}

	p.Kill()
	t0 := time.Now()
	if _, err := r.Step(ctx, [][][]float32{{target}}); !errors.Is(err, worldmodel.ErrClosed) {
		t.Fatalf("step after the peer died: %v, want ErrClosed", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatalf("the step took %v after the peer died", d)
	}
	t.Logf("a dead peer fails the step in %v", time.Since(t0))
}

// TestPeerAtURL runs the model contract kit against the peer at
// $DREAMRANK_WM_PEER (ws://host:port; $DREAMRANK_PEER_API_KEY if it wants
// one): a team's check of its own server (`make example-torch` runs it on
// the PyTorch example). Without the variable it skips.
func TestPeerAtURL(t *testing.T) {
	url := os.Getenv("DREAMRANK_WM_PEER")
	if url == "" {
		t.Skip("DREAMRANK_WM_PEER is not set: nothing to check")
	}
	m := dial(t, url, Options{APIKey: os.Getenv("DREAMRANK_PEER_API_KEY"), Timeout: time.Minute})
	t.Logf("spec %+v, describe %v", m.Spec(), m.Describe())
	modeltest.Contract(t, m)
}
