package remote

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/foundation/service/servicetest"
	"dreamrank/policy"
	"dreamrank/policy/policytest"
	"dreamrank/policy/scripted"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func serve(tb testing.TB, url, name string, p policy.Policy, opts ServeOptions) *Server {
	return servicetest.Serve(tb, url, Serve, name, p, opts)
}

func dial(tb testing.TB, url, name string, opts DialOptions) *Client {
	return servicetest.Dial(tb, url, Dial, name, opts)
}

var smallSpec = policy.Spec{FrameH: 2, FrameW: 3, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 3, ControlHz: 10}

// echo is a fake policy whose chunks encode everything it was given, so a
// round trip shows that every byte and field arrived where it belongs.
// Action k of observation i is (image[k] + 1000*len(frames), proprio[0] +
// quality + 10*len(subgoals) + subgoal byte), and its last action carries
// the task length.
type echo struct {
	spec policy.Spec
	// advertised, if set, is the Spec it claims (one that leaves sizes
	// unknown, as some remote policies do); Act still checks spec.
	advertised *policy.Spec
	calls      atomic.Int64
	err        error
	panic      bool
	delay      time.Duration
}

func (e *echo) Spec() policy.Spec {
	if e.advertised != nil {
		return *e.advertised
	}
	return e.spec
}

func (e *echo) Describe() map[string]string {
	return map[string]string{"backend": "echo", "version": "7"}
}

func (e *echo) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	e.calls.Add(1)
	if e.panic {
		panic("echo exploded")
	}
	if e.err != nil {
		return nil, e.err
	}
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := e.spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		var q, goals, gb, task float32
		if steer != nil {
			q, goals, task = float32(steer[i].Metadata.Quality), float32(len(steer[i].SubgoalImages)), float32(len(steer[i].Task))
			if len(steer[i].SubgoalImages) > 0 {
				gb = float32(steer[i].SubgoalImages[0][0])
			}
		}
		var cam float32
		if f, ok := o.Frames["wrist"]; ok {
			cam = float32(f[1])
		}
		out[i].Actions = make([][]float32, e.spec.ChunkLen)
		for k := range out[i].Actions {
			out[i].Actions[k] = []float32{float32(o.Image[k]) + 1000*cam, o.Proprio[0] + q + 10*goals + 100*gb}
		}
		out[i].Actions[e.spec.ChunkLen-1][1] = task
	}
	return out, nil
}

func frame(base uint8) []uint8 {
	f := make([]uint8, smallSpec.FrameLen())
	for i := range f {
		f[i] = base + uint8(i)
	}
	return f
}

func TestRoundTrip(t *testing.T) {
	url := servicetest.NATS(t)
	p := &echo{spec: smallSpec}
	serve(t, url, "echo", p, ServeOptions{})
	c := dial(t, url, "echo", DialOptions{})
	if c.Spec() != smallSpec {
		t.Fatalf("spec %+v, want %+v", c.Spec(), smallSpec)
	}
	if d := c.Describe(); d["version"] != "7" || d["remote_policy"] != "echo" {
		t.Errorf("describe %v", d)
	}
	tr := true
	odd := float32(math.Copysign(0, -1))
	obs := []policy.Observation{
		{Image: frame(1), Proprio: []float32{0.5, -2}, Frames: map[string][]uint8{"wrist": frame(40)}},
		{Image: frame(9), Proprio: []float32{odd, float32(math.Inf(1))}, Frames: map[string][]uint8{"wrist": frame(50)}},
	}
	steer := []policy.Context{
		{Task: "push", Metadata: policy.Metadata{Quality: 3, Speed: policy.SpeedFast, Mistake: &tr}, SubgoalImages: [][]uint8{frame(7), frame(8)}},
		{},
	}
	cases := []struct {
		name  string
		steer []policy.Context
	}{
		{"no steering", nil},
		{"steering with subgoals", steer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := p.Act(context.Background(), obs, tc.steer)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Act(context.Background(), obs, tc.steer)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("remote chunks %v, direct %v", got, want)
			}
			if math.Signbit(float64(got[1].Actions[0][1])) != math.Signbit(float64(want[1].Actions[0][1])) {
				t.Error("-0 lost its sign")
			}
		})
	}
}

// TestSplitsLargeBatches: a batch larger than one NATS message goes out in
// several requests, in order.
func TestSplitsLargeBatches(t *testing.T) {
	url := servicetest.NATS(t)
	p := &echo{spec: policy.Spec{FrameH: 96, FrameW: 96, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 2}}
	serve(t, url, "big", p, ServeOptions{})
	c := dial(t, url, "big", DialOptions{MaxRequestBytes: 64 << 10})
	obs := make([]policy.Observation, 7)
	for i := range obs {
		obs[i] = policy.Observation{Image: make([]uint8, 96*96*3), Proprio: []float32{float32(i), 0}}
		obs[i].Image[0] = uint8(i)
	}
	before := p.calls.Load()
	got, err := c.Act(context.Background(), obs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.calls.Load() - before; n != 4 { // 27.6 kB each, two per 64 kB request
		t.Errorf("%d requests, want 4", n)
	}
	for i, ch := range got {
		if ch.Actions[0][0] != float32(i) || ch.Actions[0][1] != float32(i) {
			t.Errorf("chunk %d = %v: out of order", i, ch.Actions)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	url := servicetest.NATS(t)
	serve(t, url, "fails", &echo{spec: smallSpec, err: errors.New("disk on fire")}, ServeOptions{})
	serve(t, url, "panics", &echo{spec: smallSpec, panic: true}, ServeOptions{})
	serve(t, url, "slow", &echo{spec: smallSpec, delay: 5 * time.Second}, ServeOptions{})
	serve(t, url, "unspecified", &echo{spec: smallSpec, advertised: &policy.Spec{}}, ServeOptions{})
	good := []policy.Observation{{Image: frame(0), Proprio: []float32{1, 2}}}
	cases := []struct {
		name     string
		policy   string
		opts     DialOptions
		obs      []policy.Observation
		code     errcode.Code
		sentinel error
	}{
		{"policy error", "fails", DialOptions{}, good, errcode.Internal, nil},
		{"panic", "panics", DialOptions{}, good, errcode.Internal, nil},
		{"timeout", "slow", DialOptions{Timeout: 200 * time.Millisecond, Attempts: 1}, good, errcode.Timeout, context.DeadlineExceeded},
		// The spec does not say the frame size, so the client cannot check
		// it and the served policy (which knows it is 18) rejects it.
		{"bad input on the server", "unspecified", DialOptions{}, []policy.Observation{{Image: []uint8{1, 2, 3}, Proprio: []float32{1, 2}}}, errcode.BadRequest, policy.ErrBadInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, url, tc.policy, tc.opts)
			_, err := c.Act(context.Background(), tc.obs, nil)
			if errcode.CodeOf(err) != tc.code {
				t.Fatalf("err %v, code %q, want %q", err, errcode.CodeOf(err), tc.code)
			}
			if tc.sentinel != nil && !errors.Is(err, tc.sentinel) {
				t.Errorf("err %v is not %v", err, tc.sentinel)
			}
		})
	}
	t.Run("unknown policy", func(t *testing.T) {
		_, err := Dial(context.Background(), servicetest.Connect(t, url), "nobody", DialOptions{Attempts: 1})
		if !errors.Is(err, policy.ErrUnknownPolicy) || errcode.CodeOf(err) != errcode.UnknownPolicy {
			t.Errorf("err %v, want unknown_policy", err)
		}
	})
	t.Run("bad input caught by the client", func(t *testing.T) {
		c := dial(t, url, "fails", DialOptions{})
		_, err := c.Act(context.Background(), []policy.Observation{{Image: []uint8{1}}}, nil)
		if !errors.Is(err, policy.ErrBadInput) {
			t.Errorf("err %v, want ErrBadInput", err)
		}
	})
}

func TestBackendOptions(t *testing.T) {
	url := servicetest.NATS(t)
	serve(t, url, "echo", &echo{spec: smallSpec}, ServeOptions{})
	ctx := context.Background()
	p, err := policy.Open(ctx, BackendName, policy.Options{service.OptNATSURL: url, OptPolicy: "echo", service.OptTimeout: "5s", service.OptAttempts: "2"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*Client).Close()
	if p.Spec() != smallSpec {
		t.Errorf("spec %+v", p.Spec())
	}
	for _, opts := range []policy.Options{
		{service.OptNATSURL: url},
		{service.OptNATSURL: url, OptPolicy: "echo", "colour": "red"},
		{service.OptNATSURL: url, OptPolicy: "echo", service.OptTimeout: "soon"},
		{service.OptNATSURL: url, OptPolicy: "echo", service.OptAttempts: "0"},
	} {
		if _, err := policy.Open(ctx, BackendName, opts); !errors.Is(err, policy.ErrBadInput) {
			t.Errorf("%v: err %v, want ErrBadInput", opts, err)
		}
	}
}

// goldenRequest is the worked example of PROTOCOL.md.
func goldenRequest(t testing.TB) []byte {
	tr := false
	obs := []policy.Observation{
		{Image: []uint8{1, 2, 3, 4, 5, 6}, Proprio: []float32{1.5, -2}},
		{Image: []uint8{7, 8, 9, 10, 11, 12}, Proprio: []float32{256, 0.25}},
	}
	steer := []policy.Context{
		{Task: "push the T", Metadata: policy.Metadata{Quality: 5, Speed: policy.SpeedFast, Mistake: &tr}, SubgoalImages: [][]uint8{{20, 21, 22, 23, 24, 25}}},
		{},
	}
	spec := policy.Spec{FrameH: 1, FrameW: 2, Channels: 3, ProprioDim: 2, ActionDim: 2, ChunkLen: 2}
	b, err := encodeAct(spec, obs, steer, "5f0c7a52-9a4e-4d4e-8f1e-3b1d2c0a9e77", 30000)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func goldenReply(t testing.TB) []byte {
	b, err := encodeReply([]policy.Chunk{{Actions: [][]float32{{1, 2}, {3, 4}}}, {Actions: [][]float32{{0.5, -0.5}, {512, 0}}}}, 1.25)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWireGolden pins the byte layout PROTOCOL.md documents. Regenerate
// with -update only for a new protocol version.
func TestWireGolden(t *testing.T) {
	for _, g := range []struct {
		file string
		msg  []byte
	}{{"act_request.bin", goldenRequest(t)}, {"act_reply.bin", goldenReply(t)}} {
		t.Run(g.file, func(t *testing.T) {
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, g.msg, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.msg, want) {
				t.Errorf("encoding changed:\n got %q\nwant %q", g.msg, want)
			}
		})
	}
	_, obs, steer, err := decodeAct(goldenRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(obs) != 2 || obs[1].Image[5] != 12 || obs[1].Proprio[0] != 256 || steer[0].Task != "push the T" ||
		len(steer[0].SubgoalImages) != 1 || steer[0].SubgoalImages[0][5] != 25 || steer[1].SubgoalImages != nil ||
		steer[0].Metadata.Mistake == nil || *steer[0].Metadata.Mistake {
		t.Errorf("decoded %+v %+v", obs, steer)
	}
	chunks, rep, err := decodeReply(goldenReply(t), 2)
	if err != nil || rep.PolicyMillis != 1.25 || chunks[1].Actions[1][0] != 512 {
		t.Errorf("reply %+v %+v %v", chunks, rep, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good := goldenRequest(t)
	mutate := func(f func(*actRequest)) []byte {
		req, obs, steer, err := decodeAct(good)
		if err != nil {
			t.Fatal(err)
		}
		f(&req)
		b, err := envelope.Seal(req, 0)
		if err != nil {
			t.Fatal(err)
		}
		_ = obs
		_ = steer
		// The original blob: everything after the original JSON.
		n := int(good[0])<<24 | int(good[1])<<16 | int(good[2])<<8 | int(good[3])
		return append(b, good[4+n:]...)
	}
	cases := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"short json", []byte{0, 0, 0, 9, '{'}},
		{"truncated blob", good[:len(good)-1]},
		{"extra byte", append(append([]byte(nil), good...), 0)},
		{"contexts count", mutate(func(r *actRequest) { r.Contexts = r.Contexts[:1] })},
		{"subgoal claims", mutate(func(r *actRequest) { r.Contexts[1].SubgoalImages = 1 })},
		{"negative subgoals", mutate(func(r *actRequest) { r.Contexts[0].SubgoalImages = -1 })},
		{"no contexts but subgoals", mutate(func(r *actRequest) { r.Contexts = nil })},
		{"dtype", mutate(func(r *actRequest) { r.Arrays[0].DType = "int8" })},
		{"order", mutate(func(r *actRequest) { r.Arrays[0], r.Arrays[1] = r.Arrays[1], r.Arrays[0] })},
		{"unknown array", mutate(func(r *actRequest) { r.Arrays[2].Name = "depth" })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := decodeAct(tc.body); !errors.Is(err, policy.ErrBadInput) {
				t.Errorf("err %v, want bad_request", err)
			}
		})
	}
}

// FuzzDecodeAct: the decoder of act requests (outside input) never panics,
// and what it accepts re-encodes to an equivalent request.
func FuzzDecodeAct(f *testing.F) {
	f.Add(goldenRequest(f))
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Fuzz(func(t *testing.T, body []byte) {
		_, obs, steer, err := decodeAct(body)
		if err != nil {
			return
		}
		b, err := encodeAct(policy.Spec{}, obs, steer, "", 0)
		if err != nil {
			// Decoded batches are uniform by construction.
			t.Fatalf("re-encode: %v", err)
		}
		_, obs2, steer2, err := decodeAct(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(obs2) != len(obs) || len(steer2) != len(steer) {
			t.Fatalf("round trip changed the batch")
		}
		for i := range obs {
			if !bytes.Equal(obs[i].Image, obs2[i].Image) || !reflect.DeepEqual(len(obs[i].Frames), len(obs2[i].Frames)) {
				t.Fatalf("observation %d changed", i)
			}
		}
	})
}

// TestContract serves the scripted policy over NATS and opens it through
// the registry: the client keeps the policy's promises.
func TestContract(t *testing.T) {
	url := servicetest.NATS(t)
	served, err := scripted.New(scripted.Config{Chunk: 4, Noise: 5, Seed: 3, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	servicetest.Serve(t, url, Serve, "scripted", policy.Policy(served), ServeOptions{})
	p, err := policy.Open(context.Background(), BackendName, policy.Options{service.OptNATSURL: url, OptPolicy: "scripted"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.(*Client).Close()
	policytest.Contract(t, p, policytest.PushT(3))
}
