package websocket

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
	"dreamrank/foundation/service/servicetest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
	"dreamrank/worldmodel/modeltest"
	"dreamrank/worldmodel/remote"
)

func TestContract(t *testing.T) {
	tests := []struct {
		name  string
		model worldmodel.Model
	}{
		{"mix, context of 3", &mix{spec: smallSpec()}},
		{"copylast, PushT", copylast.New(copylast.PushTSpec())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			modeltest.Contract(t, dial(t, serve(t, tc.model, ServeOptions{}), Options{}))
		})
	}
}

// contexts is a batch of contexts of every length up to the spec's, with
// awkward proprio values (NaN, -0, infinities) that must travel bit-exactly.
func contexts(spec worldmodel.Spec, rng *rand.Rand) [][]worldmodel.Observation {
	var out [][]worldmodel.Observation
	for n := 1; n <= spec.ContextLen; n++ {
		out = append(out, modeltest.Observations(spec, n, rng))
	}
	odd := []float32{float32(math.NaN()), float32(math.Copysign(0, -1)), float32(math.Inf(1))}
	copy(out[0][0].Proprio, odd)
	return out
}

// Predictions through the protocol are those of the model itself, bit for
// bit, and the client reports the peer's spec, description and FLOPs.
func TestMatchesLocal(t *testing.T) {
	local := &mix{spec: smallSpec()}
	m := dial(t, serve(t, &mix{spec: smallSpec()}, ServeOptions{}), Options{})
	if m.Spec() != local.spec || m.FLOPsPerStep() != 42 || m.Describe()["backend"] != "mix" || m.Describe()["version"] != "3" || !strings.HasPrefix(m.Describe()["websocket_url"], "ws://") {
		t.Fatalf("spec %+v, flops %v, describe %v", m.Spec(), m.FLOPsPerStep(), m.Describe())
	}
	rng := rand.New(rand.NewPCG(3, 4))
	cs := contexts(local.spec, rng)
	ctx := context.Background()
	rl, err := local.Start(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := m.Start(ctx, cs)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	for step, chunk := range []int{1, 4, 2} {
		a := modeltest.Actions(local.spec, len(cs), chunk, rng)
		want, err := rl.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rw.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := modeltest.Diff(got, want); err != nil {
			t.Fatalf("step %d: predictions through the protocol differ from the model's: %v", step, err)
		}
	}
}

// The gateway: the websocket backend served over NATS by remote.Serve
// (what `dreamrank wm serve --backend websocket` does) is a remote model
// that keeps the contract and the peer's predictions.
func TestGateway(t *testing.T) {
	ws := dial(t, serve(t, &mix{spec: smallSpec()}, ServeOptions{Concurrency: 2}), Options{})
	url := servicetest.NATS(t)
	servicetest.Serve(t, url, remote.Serve, "py", worldmodel.Model(ws), remote.ServeOptions{Concurrency: 2})
	m := servicetest.Dial(t, url, remote.Dial, "py", remote.DialOptions{Timeout: 10 * time.Second})
	if m.Spec() != smallSpec() || m.Describe()["backend"] != "mix" || m.Describe()["remote_model"] != "py" {
		t.Fatalf("spec %+v, describe %v", m.Spec(), m.Describe())
	}
	modeltest.Contract(t, m)
	// A peer's bad_request arrives as one on the bus.
	picky := &mix{spec: smallSpec(), stepHook: func(context.Context) error {
		return errcode.New(errcode.BadRequest, "actions out of range")
	}}
	ws = dial(t, serve(t, picky, ServeOptions{}), Options{})
	servicetest.Serve(t, url, remote.Serve, "picky", worldmodel.Model(ws), remote.ServeOptions{})
	m = servicetest.Dial(t, url, remote.Dial, "picky", remote.DialOptions{Timeout: 10 * time.Second})
	r, err := m.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(smallSpec(), 1, rand.New(rand.NewPCG(1, 1)))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Step(context.Background(), [][][]float32{{{1, 2}}}); !errors.Is(err, worldmodel.ErrBadInput) || errcode.CodeOf(err) != errcode.BadRequest {
		t.Fatalf("err %v, want bad_request", err)
	}
}

func TestOpenOptions(t *testing.T) {
	url := serve(t, copylast.New(copylast.PushTSpec()), ServeOptions{APIKey: "k"})
	tests := []struct {
		name string
		opts worldmodel.Options
		want error
	}{
		{"ok", worldmodel.Options{OptURL: url, OptAPIKey: "k", OptTimeout: "5s"}, nil},
		{"no url", worldmodel.Options{}, worldmodel.ErrBadInput},
		{"bad timeout", worldmodel.Options{OptURL: url, OptTimeout: "soon"}, worldmodel.ErrBadInput},
		{"unknown option", worldmodel.Options{OptURL: url, "model": "x"}, worldmodel.ErrBadInput},
		{"no key", worldmodel.Options{OptURL: url}, peer.ErrUnauthorized},
		{"nobody there", worldmodel.Options{OptURL: "ws://127.0.0.1:1"}, peer.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := worldmodel.Open(context.Background(), BackendName, tc.opts)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil && m.Spec() != copylast.PushTSpec() {
				t.Fatalf("spec %+v", m.Spec())
			}
		})
	}
}

// fakePeer is a raw peer: metadata, then it answers a reset and hands the
// connection to onStep for the first step.
func fakePeer(t *testing.T, meta map[string]any, onStep func(ctx context.Context, ws *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx := r.Context()
		send := func(m map[string]any) {
			b, _ := ndarray.Pack(m)
			_ = ws.Write(ctx, websocket.MessageBinary, b)
		}
		send(meta)
		if _, _, err := ws.Read(ctx); err != nil { // reset
			return
		}
		send(map[string]any{"type": "reset", "batch": 1})
		if _, _, err := ws.Read(ctx); err != nil { // step
			return
		}
		onStep(ctx, ws)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func specMeta(s worldmodel.Spec) map[string]any {
	return metadata(copylast.New(s))
}

// A peer that dies mid-session, answers off the protocol or reports an
// error fails the step at once with an error that says so; a cancelled
// step returns promptly. After any of them the rollout is done.
func TestStepFailures(t *testing.T) {
	spec := smallSpec()
	tests := []struct {
		name   string
		onStep func(ctx context.Context, ws *websocket.Conn)
		want   []error
	}{
		{"peer dies", func(ctx context.Context, ws *websocket.Conn) { ws.CloseNow() }, []error{worldmodel.ErrClosed, peer.ErrClosed}},
		{"peer reports bad input", func(ctx context.Context, ws *websocket.Conn) {
			_ = ws.Write(ctx, websocket.MessageText, []byte("bad_request: actions out of range"))
			_ = ws.Close(websocket.StatusInternalError, "error")
		}, []error{worldmodel.ErrBadInput}},
		{"peer raises", func(ctx context.Context, ws *websocket.Conn) {
			_ = ws.Write(ctx, websocket.MessageText, []byte("Traceback (most recent call last):\nRuntimeError: CUDA out of memory"))
			_ = ws.Close(websocket.StatusInternalError, "error")
		}, []error{errcode.Internal}},
		{"reply off the spec", func(ctx context.Context, ws *websocket.Conn) {
			b, _ := ndarray.Pack(map[string]any{"frames": ndarray.NewUint8(make([]uint8, 3), 1, 1, 1, 1, 3), "proprio": ndarray.NewFloat32(nil, 1, 1, 0)})
			_ = ws.Write(ctx, websocket.MessageBinary, b)
			_, _, _ = ws.Read(ctx)
		}, []error{errcode.Internal}},
		{"cancelled", func(ctx context.Context, ws *websocket.Conn) { _, _, _ = ws.Read(ctx) }, []error{context.Canceled}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := dial(t, fakePeer(t, specMeta(spec), tc.onStep), Options{})
			r, err := m.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(spec, 1, rand.New(rand.NewPCG(1, 2)))})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.name == "cancelled" {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			t0 := time.Now()
			_, err = r.Step(ctx, [][][]float32{{{1, 2}}})
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("err %v, want %v", err, w)
				}
			}
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("the step took %v", d)
			}
			if _, err := r.Step(context.Background(), [][][]float32{{{1, 2}}}); !errors.Is(err, worldmodel.ErrClosed) {
				t.Errorf("a step after that: %v, want ErrClosed", err)
			}
		})
	}
}

// The Go peer answers what the client cannot send by mistake.
func TestServeRejects(t *testing.T) {
	spec := smallSpec()
	url := serve(t, &mix{spec: spec}, ServeOptions{})
	frames := func(b, t int) *ndarray.Array {
		return ndarray.NewUint8(make([]uint8, b*t*spec.FrameLen()), b, t, spec.FrameH, spec.FrameW, spec.Channels)
	}
	reset := map[string]any{"type": "reset", "frames": frames(1, 1), "proprio": ndarray.NewFloat32(make([]float32, 3), 1, 1, 3)}
	tests := []struct {
		name string
		reqs []map[string]any
	}{
		{"unknown type", []map[string]any{{"type": "predict"}}},
		{"step before reset", []map[string]any{{"type": "step", "actions": ndarray.NewFloat32([]float32{1, 2}, 1, 1, 2)}}},
		{"context too long", []map[string]any{{"type": "reset", "frames": frames(1, 4), "proprio": ndarray.NewFloat32(make([]float32, 12), 1, 4, 3)}}},
		{"context_lens off", []map[string]any{{"type": "reset", "frames": frames(1, 1), "proprio": ndarray.NewFloat32(make([]float32, 3), 1, 1, 3), "context_lens": []int{2}}}},
		{"wrong batch", []map[string]any{reset, {"type": "step", "actions": ndarray.NewFloat32([]float32{1, 2, 3, 4}, 2, 1, 2)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := peer.Dial(context.Background(), url, peer.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, req := range tc.reqs {
				_, err = c.Call(context.Background(), req)
				if i < len(tc.reqs)-1 && err != nil {
					t.Fatal(err)
				}
			}
			var se *peer.ServerError
			if !errors.As(err, &se) || se.Code != websocket.StatusInternalError || !errors.Is(err, worldmodel.ErrBadInput) {
				t.Fatalf("err %v, want a bad_request peer error and close 1011", err)
			}
		})
	}
}

// The server cancels the model's work when the client abandons a step.
func TestServeCancels(t *testing.T) {
	cancelled := make(chan struct{})
	m := &mix{spec: smallSpec(), stepHook: func(ctx context.Context) error {
		<-ctx.Done()
		close(cancelled)
		return ctx.Err()
	}}
	c := dial(t, serve(t, m, ServeOptions{}), Options{Timeout: 100 * time.Millisecond})
	r, err := c.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(smallSpec(), 1, rand.New(rand.NewPCG(1, 2)))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Step(context.Background(), [][][]float32{{{1, 2}}}); !errors.Is(err, context.DeadlineExceeded) || errcode.CodeOf(err) != errcode.Timeout {
		t.Fatalf("err %v (code %s), want the per-request timeout", err, errcode.CodeOf(err))
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the model works on after the client left")
	}
}

// A peer that is not a world model is refused at Dial.
func TestDialRefusesOtherPeers(t *testing.T) {
	tests := []struct {
		name string
		meta map[string]any
	}{
		{"openpi policy server", map[string]any{"frame_h": 96, "action_horizon": 16}},
		{"judge", map[string]any{"protocol": 1, "kind": "judge"}},
		{"other protocol", map[string]any{"protocol": 2, "kind": Kind, "spec": specMeta(smallSpec())["spec"]}},
		{"no spec", map[string]any{"protocol": 1, "kind": Kind}},
		{"bad size", map[string]any{"protocol": 1, "kind": Kind, "spec": map[string]any{"frame_h": -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := fakePeer(t, tc.meta, func(context.Context, *websocket.Conn) {})
			if _, err := Dial(context.Background(), url, Options{}); err == nil || errcode.CodeOf(err) != errcode.Internal {
				t.Fatalf("err %v", err)
			}
		})
	}
}
