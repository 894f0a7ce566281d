package openpi

import (
	"bytes"
	"context"
	"dreamrank/foundation/ndarray"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dreamrank/policy"
	"dreamrank/policy/zoo"
)

var fakeSpec = policy.Spec{FrameH: 4, FrameW: 5, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 3, ControlHz: 10}

// fakePolicy returns actions with awkward bit patterns derived from the
// observation and records what it was given.
type fakePolicy struct {
	mu    sync.Mutex
	obs   []policy.Observation
	steer []policy.Context
	fail  error
}

func (p *fakePolicy) Spec() policy.Spec           { return fakeSpec }
func (p *fakePolicy) Describe() map[string]string { return map[string]string{"name": "fake"} }
func fakeActions(o policy.Observation) policy.Chunk {
	ch := policy.Chunk{}
	for k := range fakeSpec.ChunkLen {
		ch.Actions = append(ch.Actions, []float32{
			o.Proprio[0] * float32(k+1),
			math.Float32frombits(0x00000001+uint32(k)) + float32(o.Image[0]), // subnormal
		})
	}
	ch.Actions[0][0] = float32(math.Copysign(0, -1))
	return ch
}

func (p *fakePolicy) Act(_ context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if p.fail != nil {
		return nil, p.fail
	}
	if err := fakeSpec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.obs = append(p.obs, obs...)
	if steer == nil { // no steering: record zero contexts
		steer = make([]policy.Context, len(obs))
	}
	p.steer = append(p.steer, steer...)
	p.mu.Unlock()
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		out[i] = fakeActions(o)
	}
	return out, nil
}

func quiet(string, ...any) {}

func frame(seed byte) []uint8 {
	b := make([]uint8, fakeSpec.FrameLen())
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	fp := &fakePolicy{}
	srv := httptest.NewServer(Serve(fp, ServerOptions{Metadata: map[string]any{"extra": "x"}, Logf: quiet, Layout: Layout{Cameras: map[string]string{"wrist": "observation/wrist_image"}}}))
	defer srv.Close()
	ctx := context.Background()
	c, err := Dial(ctx, srv.URL, ClientOptions{Layout: Layout{Cameras: map[string]string{"wrist": "observation/wrist_image"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Spec() != fakeSpec {
		t.Errorf("spec from metadata = %+v, want %+v", c.Spec(), fakeSpec)
	}
	if c.Metadata()["extra"] != "x" || c.Metadata()["policy"].(map[string]any)["name"] != "fake" {
		t.Errorf("metadata = %v", c.Metadata())
	}
	if d := c.Describe(); d["backend"] != "openpi" || d["action_dim"] != "2" {
		t.Errorf("Describe = %v", d)
	}
	f := false
	obs := []policy.Observation{
		{Image: frame(1), Proprio: []float32{0.25, -1e-30}, Frames: map[string][]uint8{"wrist": frame(9)}},
		{Image: frame(2), Proprio: []float32{float32(math.MaxFloat32), 3}},
	}
	steer := []policy.Context{
		{Task: "push the T", Subtask: "approach", Metadata: policy.Metadata{Speed: policy.SpeedFast, Quality: 5, Mistake: &f}, SubgoalImages: [][]uint8{frame(3), frame(4)}},
		{},
	}
	chunks, err := c.Act(ctx, obs, steer)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range obs {
		want := fakeActions(o)
		for k := range want.Actions {
			for j := range want.Actions[k] {
				if g, w := math.Float32bits(chunks[i].Actions[k][j]), math.Float32bits(want.Actions[k][j]); g != w {
					t.Errorf("chunk %d action %d/%d bits %08x, want %08x", i, k, j, g, w)
				}
			}
		}
	}
	if !reflect.DeepEqual(fp.obs, obs) {
		t.Errorf("server saw observations %+v\nwant %+v", fp.obs, obs)
	}
	if !reflect.DeepEqual(fp.steer, steer) {
		t.Errorf("server saw contexts %+v\nwant %+v", fp.steer, steer)
	}
	// The raw response carries the timings.
	m, err := c.enc.encode(obs[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Infer(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"actions", "policy_timing", "server_timing"} {
		if _, ok := resp[k]; !ok {
			t.Errorf("response lacks %q: %v", k, resp)
		}
	}
	if _, ok := resp["server_timing"].(map[string]any)["infer_ms"].(float64); !ok {
		t.Errorf("server_timing = %v", resp["server_timing"])
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.Act(ctx, obs, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Act after Close: %v", err)
	}
}

func TestRegistered(t *testing.T) {
	srv := httptest.NewServer(Serve(&fakePolicy{}, ServerOptions{APIKey: "k", Logf: quiet}))
	defer srv.Close()
	p, err := policy.Open(context.Background(), "openpi", policy.Options{"url": strings.TrimPrefix(srv.URL, "http://"), "api_key": "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*Client).Close()
	if p.Spec() != fakeSpec {
		t.Errorf("spec %+v", p.Spec())
	}
	if _, err := policy.Open(context.Background(), "openpi", nil); err == nil {
		t.Error("Open without url succeeded")
	}
}

func TestHealthzAndAPIKey(t *testing.T) {
	srv := httptest.NewServer(Serve(&fakePolicy{}, ServerOptions{APIKey: "secret", Logf: quiet}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d", resp.StatusCode)
	}
	ctx := context.Background()
	for _, key := range []string{"", "wrong"} {
		if _, err := Dial(ctx, srv.URL, ClientOptions{APIKey: key}); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("key %q: %v", key, err)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: HTTP %d, want 401", resp.StatusCode)
	}
	c, err := Dial(ctx, srv.URL, ClientOptions{APIKey: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestServerError(t *testing.T) {
	fp := &fakePolicy{fail: fmt.Errorf("model exploded")}
	srv := httptest.NewServer(Serve(fp, ServerOptions{Logf: quiet}))
	defer srv.Close()
	ctx := context.Background()
	c, err := Dial(ctx, srv.URL, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obs := []policy.Observation{{Image: frame(0), Proprio: []float32{0, 0}}}
	_, err = c.Act(ctx, obs, nil)
	var se *ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "model exploded") || se.Code != websocket.StatusInternalError {
		t.Fatalf("err = %v (%#v)", err, se)
	}
	if _, err := c.Act(ctx, obs, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Act after server error: %v", err)
	}
}

// TestServerBadInput drives the server with raw frames: a malformed message
// and a wrong-sized observation get a text frame and close 1011.
func TestServerBadInput(t *testing.T) {
	srv := httptest.NewServer(Serve(&fakePolicy{}, ServerOptions{Logf: quiet}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	proper, _ := ndarray.Pack(map[string]any{"observation/image": ndarray.NewUint8(frame(0), 4, 5, 3), "observation/state": ndarray.NewFloat32([]float32{1, 2}, 2)})
	wrongSize, _ := ndarray.Pack(map[string]any{"observation/image": ndarray.NewUint8(make([]uint8, 6), 1, 2, 3), "observation/state": ndarray.NewFloat32([]float32{1, 2}, 2)})
	badQuality, _ := ndarray.Pack(map[string]any{"observation/image": ndarray.NewUint8(frame(0), 4, 5, 3), "observation/state": ndarray.NewFloat32([]float32{1, 2}, 2), "metadata/quality": 9})
	for name, msg := range map[string][]byte{
		"garbage":     {0xc1},
		"not a map":   {0xc3},
		"wrong size":  wrongSize,
		"bad quality": badQuality,
		"no image":    {0x80},
	} {
		conn, _, err := websocket.Dial(ctx, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		if typ, _, err := conn.Read(ctx); err != nil || typ != websocket.MessageBinary {
			t.Fatalf("%s: metadata frame: %v %v", name, typ, err)
		}
		// One good request first: the connection serves many.
		if err := conn.Write(ctx, websocket.MessageBinary, proper); err != nil {
			t.Fatal(err)
		}
		if typ, _, err := conn.Read(ctx); err != nil || typ != websocket.MessageBinary {
			t.Fatalf("%s: good request: %v %v", name, typ, err)
		}
		if err := conn.Write(ctx, websocket.MessageBinary, msg); err != nil {
			t.Fatal(err)
		}
		typ, data, err := conn.Read(ctx)
		if err != nil || typ != websocket.MessageText || len(data) == 0 {
			t.Fatalf("%s: want a text frame, got %v %q %v", name, typ, data, err)
		}
		_, _, err = conn.Read(ctx)
		if st := websocket.CloseStatus(err); st != websocket.StatusInternalError {
			t.Errorf("%s: close status %v (%v)", name, st, err)
		}
		conn.CloseNow()
	}
}

func TestClientRejectsBadInput(t *testing.T) {
	srv := httptest.NewServer(Serve(&fakePolicy{}, ServerOptions{Logf: quiet}))
	defer srv.Close()
	c, err := Dial(context.Background(), srv.URL, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Act(context.Background(), []policy.Observation{{Image: []uint8{1}, Proprio: []float32{0, 0}}}, nil)
	if !errors.Is(err, policy.ErrBadInput) {
		t.Errorf("err = %v", err)
	}
	// A local validation error leaves the connection usable.
	if _, err := c.Act(context.Background(), []policy.Observation{{Image: frame(0), Proprio: []float32{0, 0}}}, nil); err != nil {
		t.Error(err)
	}
}

type slowPolicy struct{ fakePolicy }

func (p *slowPolicy) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	return p.fakePolicy.Act(ctx, obs, steer)
}

func TestClientCancel(t *testing.T) {
	srv := httptest.NewServer(Serve(&slowPolicy{}, ServerOptions{Logf: quiet}))
	defer srv.Close()
	c, err := Dial(context.Background(), srv.URL, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	obs := []policy.Observation{{Image: frame(0), Proprio: []float32{0, 0}}}
	if _, err := c.Act(ctx, obs, nil); err == nil {
		t.Fatal("cancelled Act succeeded")
	}
	if _, err := c.Act(context.Background(), obs, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Act after cancel: %v", err)
	}
}

// BenchmarkRoundTrip measures one request over loopback with a PushT-sized
// (96x96x3) image and a trivial policy: the protocol's own overhead.
func BenchmarkRoundTrip(b *testing.B) {
	spec := policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 16}
	srv := httptest.NewServer(Serve(zeroPolicy{spec}, ServerOptions{Logf: quiet}))
	defer srv.Close()
	c, err := Dial(context.Background(), srv.URL, ClientOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	obs := []policy.Observation{{Image: make([]uint8, spec.FrameLen()), Proprio: []float32{1, 2}}}
	steer := []policy.Context{{Task: "push", Metadata: policy.Metadata{Quality: 5, Speed: policy.SpeedFast}}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Act(context.Background(), obs, steer); err != nil {
			b.Fatal(err)
		}
	}
}

type zeroPolicy struct{ spec policy.Spec }

func (p zeroPolicy) Spec() policy.Spec { return p.spec }
func (p zeroPolicy) Act(_ context.Context, obs []policy.Observation, _ []policy.Context) ([]policy.Chunk, error) {
	out := make([]policy.Chunk, len(obs))
	for i := range out {
		for range p.spec.ChunkLen {
			out[i].Actions = append(out[i].Actions, make([]float32, p.spec.ActionDim))
		}
	}
	return out, nil
}

// TestLayoutsBothWays: the Go client and server agree in every preset and
// in CHW and float32 variants; frames arrive converted to the policy's.
func TestLayoutsBothWays(t *testing.T) {
	tests := []struct {
		name    string
		opts    map[string]string
		proprio int
		frames  map[string][]uint8
	}{
		{"flat", nil, 2, nil},
		{"droid float32", map[string]string{"layout": "droid", "image_dtype": "float32"}, 8, map[string][]uint8{"wrist": constFrame(96, 96, [3]uint8{4, 5, 6})}},
		{"aloha at the policy's size", map[string]string{"layout": "aloha", "image_size": "96x96"}, 14, map[string][]uint8{"cam_low": constFrame(96, 96, [3]uint8{4, 5, 6})}},
		{"libero stretched, channels first", map[string]string{"layout": "libero", "resize": "stretch", "image_layout": "chw"}, 8, nil},
		{"nested custom keys", map[string]string{"image_key": "obs.cams.top", "state_key": "obs.q:1,obs.rest", "prompt_key": "obs.task"}, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ParseLayout(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			rp := &recPolicy{spec: policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: tt.proprio, ActionDim: 2, ChunkLen: 3}}
			srv := httptest.NewServer(Serve(rp, ServerOptions{Layout: l, Logf: quiet}))
			defer srv.Close()
			ctx := context.Background()
			c, err := Dial(ctx, srv.URL, ClientOptions{Layout: l})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			obs := policy.Observation{Image: constFrame(96, 96, [3]uint8{11, 22, 33}), Proprio: seq(tt.proprio), Frames: tt.frames}
			steer := policy.Context{Task: "stack the cups"}
			if _, err := c.Act(ctx, []policy.Observation{obs}, []policy.Context{steer}); err != nil {
				t.Fatal(err)
			}
			got := rp.obs[0]
			if !bytes.Equal(got.Image, obs.Image) || !reflect.DeepEqual(got.Proprio, obs.Proprio) || rp.steer[0].Task != steer.Task {
				t.Errorf("policy got image %v... proprio %v task %q", got.Image[:3], got.Proprio, rp.steer[0].Task)
			}
			for name, f := range tt.frames {
				if !bytes.Equal(got.Frames[name], f) {
					t.Errorf("frame %s differs", name)
				}
			}
			if l.FillCameras && len(tt.frames) == 0 {
				for name, f := range got.Frames {
					if !bytes.Equal(f, make([]uint8, len(f))) {
						t.Errorf("filled camera %s is not black", name)
					}
				}
			}
		})
	}
}

// TestZooArm: a zoo arm names an openpi endpoint and its layout.
func TestZooArm(t *testing.T) {
	l, _ := Preset(LayoutLIBERO)
	rp := &recPolicy{spec: policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 8, ActionDim: 7, ChunkLen: 5}}
	srv := httptest.NewServer(Serve(rp, ServerOptions{Layout: l, Logf: quiet}))
	defer srv.Close()
	z, err := zoo.Parse("test.yaml", []byte(`arms:
  - {name: pi05-libero, backend: openpi, options: {url: "`+srv.URL+`", layout: libero}, context: {task: "put the bowl on the plate"}}
  - {name: bad-layout, backend: openpi, options: {url: "`+srv.URL+`", layout: libero, image_size: huge}}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, arm, err := z.Open(context.Background(), "pi05-libero")
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*Client).Close()
	obs := policy.Observation{Image: constFrame(96, 96, [3]uint8{1, 2, 3}), Proprio: seq(8)}
	chunks, err := p.Act(context.Background(), []policy.Observation{obs}, []policy.Context{*arm.Steer()})
	if err != nil || len(chunks[0].Actions) != 5 || rp.steer[0].Task != "put the bowl on the plate" {
		t.Fatalf("act: %v %v, served context %+v", chunks, err, rp.steer)
	}
	if d := p.(policy.Describer).Describe(); d["layout"] != LayoutLIBERO {
		t.Errorf("Describe = %v", d)
	}
	if _, _, err := z.Open(context.Background(), "bad-layout"); !errors.Is(err, ErrBadLayout) {
		t.Errorf("bad layout: %v", err)
	}
}
