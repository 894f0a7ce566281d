package openpi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dreamrank/foundation/testenv"
	"dreamrank/policy"
)

// The tests in this file run testdata/openpi_peer.py, an openpi peer
// written from PROTOCOL.md, in both directions. They need a python3 with
// Debian's python3-msgpack, python3-numpy and python3-websockets (`make
// setup-test`); without one they fail under CI and skip elsewhere.

const peerScript = "testdata/openpi_peer.py"

func python(t *testing.T) string {
	t.Helper()
	works := func(p string) bool { return exec.Command(p, "-c", "import msgpack, numpy, websockets").Run() == nil }
	return testenv.Program(t, "python3 with msgpack, numpy and websockets", works, "/usr/bin/python3", "python3")
}

// startPeer starts the peer's server with a layout and a metadata frame
// (JSON) and returns its URL. It stops with the test.
func startPeer(t *testing.T, py, layout, metadata string) string {
	t.Helper()
	cmd := exec.Command(py, peerScript, "serve", "--layout", layout, "--metadata", metadata)
	stdin, err := cmd.StdinPipe() // the peer exits when it closes
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("peer stderr:\n%s", stderr.String())
		}
	})
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			first <- sc.Text()
		}
		close(first)
	}()
	select {
	case line, ok := <-first:
		var port int
		if _, err := fmt.Sscanf(line, "PORT %d", &port); !ok || err != nil {
			t.Fatalf("peer's first line %q (%v)", line, err)
		}
		return fmt.Sprintf("ws://127.0.0.1:%d", port)
	case <-time.After(30 * time.Second):
		t.Fatal("the peer did not print its port within 30s")
	}
	return ""
}

// constFrame is an h x w RGB frame of one colour: resizing keeps it, and a
// wrong axis order mixes the channels.
func constFrame(h, w int, rgb [3]uint8) []uint8 {
	f := make([]uint8, h*w*3)
	for i := range f {
		f[i] = rgb[i%3]
	}
	return f
}

func seq(n int) []float32 {
	p := make([]float32, n)
	for i := range p {
		p[i] = float32(float64(i) / 10) // as the peer sends it: float64, then float32
	}
	return p
}

// TestClientAgainstPythonServer: the Go client in each preset layout
// against the peer's openpi-style server of that layout, which sends
// openpi's usual metadata and says nothing about sizes.
func TestClientAgainstPythonServer(t *testing.T) {
	py := python(t)
	main, wrist := [3]uint8{11, 22, 33}, [3]uint8{44, 55, 66}
	tests := []struct {
		layout  string
		proprio int
		frames  map[string][]uint8 // further cameras sent
		seen    map[string]string  // what the server saw
		means   map[string][]float64
		chunk   [2]int
	}{
		{"droid", 8, map[string][]uint8{"wrist": constFrame(96, 96, wrist)},
			map[string]string{"observation/exterior_image_1_left": "|u1 [224, 224, 3]", "observation/wrist_image_left": "|u1 [224, 224, 3]",
				"observation/joint_position": "<f4 [7]", "observation/gripper_position": "<f4 [1]"},
			map[string][]float64{"observation/exterior_image_1_left": {11, 22, 33}, "observation/wrist_image_left": {44, 55, 66}}, [2]int{10, 8}},
		{"aloha", 14, map[string][]uint8{"cam_left_wrist": constFrame(96, 96, wrist)},
			map[string]string{"images/cam_high": "|u1 [3, 224, 224]", "images/cam_left_wrist": "|u1 [3, 224, 224]", "state": "<f4 [14]"},
			map[string][]float64{"images/cam_high": {11, 22, 33}, "images/cam_left_wrist": {44, 55, 66}}, [2]int{50, 14}},
		{"libero", 8, nil, // no wrist camera: a black frame goes instead
			map[string]string{"observation/image": "|u1 [224, 224, 3]", "observation/wrist_image": "|u1 [224, 224, 3]", "observation/state": "<f4 [8]"},
			map[string][]float64{"observation/image": {11, 22, 33}, "observation/wrist_image": {0, 0, 0}}, [2]int{10, 7}},
		{"flat", 2, nil,
			map[string]string{"observation/image": "|u1 [96, 96, 3]", "observation/state": "<f4 [2]"},
			map[string][]float64{"observation/image": {11, 22, 33}}, [2]int{16, 2}},
	}
	metadata := map[string]string{"empty": `{}`, "reset_pose": `{"reset_pose": [0.0, -0.5, 0.25]}`}
	for _, tt := range tests {
		for mname, meta := range metadata {
			t.Run(tt.layout+"/"+mname, func(t *testing.T) {
				url := startPeer(t, py, tt.layout, meta)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				l, err := Preset(tt.layout)
				if err != nil {
					t.Fatal(err)
				}
				c, err := Dial(ctx, url, ClientOptions{Layout: l})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if mname == "reset_pose" && len(c.Metadata()["reset_pose"].([]any)) != 3 {
					t.Errorf("metadata %v", c.Metadata())
				}
				obs := policy.Observation{Image: constFrame(96, 96, main), Proprio: seq(tt.proprio), Frames: tt.frames}
				for _, task := range []string{"", "pick up the fork"} {
					var steer *policy.Context
					if task != "" {
						steer = &policy.Context{Task: task, Metadata: policy.Metadata{Quality: 5}}
					}
					m, err := c.enc.encode(obs, steer)
					if err != nil {
						t.Fatal(err)
					}
					reply, err := c.Infer(ctx, m)
					if err != nil {
						t.Fatal(err)
					}
					checkPeerReply(t, reply, task, tt.seen, tt.means, tt.layout == LayoutFlat)
				}
				var sum float64
				for _, v := range obs.Proprio {
					sum += float64(v)
				}
				chunks, err := c.Act(ctx, []policy.Observation{obs, obs}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if s := c.Spec(); s.ChunkLen != tt.chunk[0] || s.ActionDim != tt.chunk[1] || len(chunks[1].Actions) != tt.chunk[0] {
					t.Errorf("spec after the first reply %+v, chunk %dx%d; want %v", s, len(chunks[1].Actions), len(chunks[1].Actions[0]), tt.chunk)
				}
				if got := chunks[0].Actions[1][1]; math.Abs(float64(got)-(sum+0.25+1)) > 1e-4 {
					t.Errorf("action [1][1] = %v, want the state's sum %v + 1.25", got, sum)
				}
			})
		}
	}
}

// checkPeerReply checks what the peer says it read.
func checkPeerReply(t *testing.T, reply map[string]any, task string, seen map[string]string, means map[string][]float64, steering bool) {
	t.Helper()
	if reply["prompt"] != task {
		t.Errorf("the server read prompt %q, want %q", reply["prompt"], task)
	}
	gotSeen := map[string]string{}
	for k, v := range reply["seen"].(map[string]any) {
		gotSeen[k] = v.(string)
	}
	if !reflect.DeepEqual(gotSeen, seen) {
		t.Errorf("the server saw %v\nwant %v", gotSeen, seen)
	}
	for key, want := range means {
		got, _ := reply["means"].(map[string]any)[key].([]any)
		if len(got) != 3 {
			t.Errorf("%s: channel means %v", key, got)
			continue
		}
		for ch, w := range want {
			if g := got[ch].(float64); math.Abs(g-w) > 1e-9 {
				t.Errorf("%s channel %d: mean %v, want %v (a wrong axis order mixes channels)", key, ch, g, w)
			}
		}
	}
	if got := slices.Contains(reply["keys"].([]any), any("metadata/quality")); got != (steering && task != "") {
		t.Errorf("steering key metadata/quality sent: %v (only the flat layout sends dreamrank's steering keys)", got)
	}
}

// TestClientPythonServerErrors: the peer's traceback frame and close 1011
// come back as a *ServerError, and the connection is then closed.
func TestClientPythonServerErrors(t *testing.T) {
	py := python(t)
	url := startPeer(t, py, "droid", `{}`)
	tests := []struct {
		name   string
		layout Layout
		want   string
	}{
		{"flat layout to a droid server", Layout{}, "KeyError: 'observation/exterior_image_1_left'"},
		{"float32 images to a uint8 server", func() Layout {
			l, _ := ParseLayout(map[string]string{"layout": "droid", "image_dtype": "float32"})
			return l
		}(), "got <f4 [224, 224, 3], want |u1 [224, 224, 3]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := Dial(ctx, url, ClientOptions{Layout: tt.layout})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			obs := []policy.Observation{{Image: constFrame(96, 96, [3]uint8{1, 2, 3}), Proprio: seq(8)}}
			_, err = c.Act(ctx, obs, nil)
			var se *ServerError
			if !errors.As(err, &se) || se.Code != websocket.StatusInternalError || !strings.Contains(se.Message, tt.want) {
				t.Fatalf("err = %v, want a ServerError (close 1011) with %q", err, tt.want)
			}
			if _, err := c.Act(ctx, obs, nil); !errors.Is(err, ErrClosed) {
				t.Errorf("Act after a server error: %v", err)
			}
		})
	}
}

// recPolicy records what it is given and answers zeros.
type recPolicy struct {
	spec  policy.Spec
	mu    sync.Mutex
	obs   []policy.Observation
	steer []policy.Context
}

func (p *recPolicy) Spec() policy.Spec { return p.spec }
func (p *recPolicy) Act(_ context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if err := p.spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.obs = append(p.obs, obs...)
	p.steer = append(p.steer, steer...)
	p.mu.Unlock()
	out := make([]policy.Chunk, len(obs))
	for i := range out {
		for range p.spec.ChunkLen {
			out[i].Actions = append(out[i].Actions, make([]float32, p.spec.ActionDim))
		}
	}
	return out, nil
}

// peerResult is one line of the peer client's output.
type peerResult struct {
	Case         string   `json:"case"`
	Error        string   `json:"error"`
	Code         *int     `json:"code"`
	ActionsShape []int    `json:"actions_shape"`
	ActionsDType string   `json:"actions_dtype"`
	AgainEqual   bool     `json:"again_equal"`
	Timing       []string `json:"timing"`
}

// TestServerAgainstPythonClient: the peer's client sends observations in
// each preset layout to the Go server of that layout, good ones and
// malformed ones.
func TestServerAgainstPythonClient(t *testing.T) {
	py := python(t)
	tests := []struct {
		layout  string
		frame   int // the policy's frame side: the server resizes to it
		proprio int
		frames  []string // further cameras the peer's good observation has
		refuse  map[string]string
	}{
		{"droid", 8, 8, []string{"wrist"}, map[string]string{
			"transposed":  "observation/exterior_image_1_left is |u1 [3 224 224], want |u1 [224,224,3]",
			"float64":     "observation/exterior_image_1_left is <f8 [224 224 3], want |u1 [224,224,3]",
			"no_image":    "observation has no observation/exterior_image_1_left",
			"short_state": "observation/joint_position has 6 values, want 7"}},
		{"aloha", 8, 14, nil, map[string]string{
			"transposed":  "images.cam_high is |u1 [224 224 3], want |u1 [3,224,224]",
			"float64":     "images.cam_high is <f8 [3 224 224], want |u1 [3,224,224]",
			"no_image":    "observation has no images.cam_high",
			"short_state": "proprio has 13 values, want 14"}},
		{"libero", 8, 8, []string{"wrist"}, map[string]string{
			"transposed":  "observation/image is |u1 [3 224 224], want |u1 [224,224,3]",
			"float64":     "observation/image is <f8 [224 224 3], want |u1 [224,224,3]",
			"no_image":    "observation has no observation/image",
			"short_state": "proprio has 7 values, want 8"}},
		{"flat", 96, 2, nil, map[string]string{
			"transposed":  "observation/image is |u1 [3 96 96], want |u1 [96,96,3]",
			"float64":     "observation/image is <f8 [96 96 3], want |u1 [96,96,3]",
			"no_image":    "observation has no observation/image",
			"short_state": "proprio has 1 values, want 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.layout, func(t *testing.T) {
			l, err := Preset(tt.layout)
			if err != nil {
				t.Fatal(err)
			}
			rp := &recPolicy{spec: policy.Spec{FrameH: tt.frame, FrameW: tt.frame, Channels: 3, ProprioDim: tt.proprio, ActionDim: 3, ChunkLen: 4}}
			srv := httptest.NewServer(Serve(rp, ServerOptions{Layout: l, Logf: quiet}))
			defer srv.Close()
			cases := append([]string{"good"}, "transposed", "float64", "no_image", "short_state", "not_msgpack")
			ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, py, peerScript, "client", "--url", "ws"+strings.TrimPrefix(srv.URL, "http"),
				"--layout", tt.layout, "--cases", strings.Join(cases, ",")).CombinedOutput()
			if err != nil {
				t.Fatalf("peer client: %v\n%s", err, out)
			}
			results := map[string]peerResult{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				var r peerResult
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("peer output line %q: %v", line, err)
				}
				results[r.Case] = r
			}
			good := results["good"]
			if good.Error != "" || !reflect.DeepEqual(good.ActionsShape, []int{4, 3}) || good.ActionsDType != "<f4" || !good.AgainEqual ||
				!slices.Contains(good.Timing, "prev_total_ms") {
				t.Errorf("good observation: %+v", good)
			}
			checkServed(t, rp, tt.frame, tt.proprio, tt.frames)
			for name, want := range tt.refuse {
				r := results[name]
				if r.Code == nil || *r.Code != 1011 || !strings.Contains(r.Error, want) {
					t.Errorf("%s: got %q (close %v), want an error frame with %q and close 1011", name, r.Error, r.Code, want)
				}
			}
			if r := results["not_msgpack"]; r.Code == nil || *r.Code != 1011 || r.Error == "" {
				t.Errorf("not msgpack: %+v", r)
			}
		})
	}
}

// checkServed: the policy got the peer's good observation, twice,
// converted to its frame.
func checkServed(t *testing.T, rp *recPolicy, side, proprio int, frames []string) {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.obs) != 2 {
		t.Fatalf("the policy got %d observations, want 2", len(rp.obs))
	}
	o := rp.obs[0]
	if want := constFrame(side, side, [3]uint8{11, 22, 33}); !bytes.Equal(o.Image, want) {
		t.Errorf("image: %d bytes starting %v, want %dx%d of (11,22,33)", len(o.Image), o.Image[:min(6, len(o.Image))], side, side)
	}
	if !reflect.DeepEqual(o.Proprio, seq(proprio)) {
		t.Errorf("proprio %v, want %v", o.Proprio, seq(proprio))
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range o.Frames {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, frames) {
		t.Errorf("frames %v, want %v", got, frames)
	}
	if len(rp.steer) != 2 || rp.steer[0].Task != "do something" {
		t.Errorf("contexts %+v, want the prompt as the task", rp.steer)
	}
}
