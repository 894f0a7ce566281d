package openpi

import (
	"context"
	"crypto/subtle"
	"dreamrank/foundation/ndarray"
	"errors"
	"fmt"
	"log"
	"maps"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"dreamrank/policy"
)

// DefaultReadLimit is the largest message either side accepts (bytes).
const DefaultReadLimit = 64 << 20

// closeReason is the close reason after an error, as openpi's server sends it.
const closeReason = "Internal server error. Traceback included in previous frame."

// ServerOptions configure Serve.
type ServerOptions struct {
	// Layout says what observations look like on the wire (the zero value
	// is the flat layout); the server checks every image's dtype and shape
	// against it and converts it to the policy's frame (channels last,
	// uint8, the policy's size).
	Layout Layout
	// APIKey, if set, is required as the header "Authorization: Api-Key <key>";
	// connections without it get 401.
	APIKey string
	// Metadata is added to (and overrides) the metadata frame sent on connect.
	Metadata map[string]any
	// ReadLimit bounds incoming messages; 0 means DefaultReadLimit.
	ReadLimit int64
	// Logf logs connection errors; nil means log.Printf.
	Logf func(format string, args ...any)
}

type server struct {
	p      policy.Policy
	opts   ServerOptions
	layout Layout
	bad    error // an invalid layout: every connection gets it
}

// Serve returns an http.Handler that serves p under the openpi websocket
// protocol (PROTOCOL.md): GET /healthz answers 200; any other path upgrades
// to a websocket, sends the metadata frame, then answers each msgpack
// observation with {"actions", "policy_timing", "server_timing"}. On an
// error it sends the error text as a text frame and closes with 1011.
func Serve(p policy.Policy, opts ServerOptions) http.Handler {
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	l := opts.Layout.withDefaults()
	return &server{p: p, opts: opts, layout: l, bad: l.Validate()}
}

// SpecMetadata is the metadata frame describing a policy: its Spec under
// the keys Dial reads back, plus Describe() under "policy" if it has one.
func SpecMetadata(p policy.Policy) map[string]any {
	s := p.Spec()
	m := map[string]any{
		"frame_h":        s.FrameH,
		"frame_w":        s.FrameW,
		"channels":       s.Channels,
		"proprio_dim":    s.ProprioDim,
		"action_dim":     s.ActionDim,
		"action_horizon": s.ChunkLen,
		"control_hz":     s.ControlHz,
	}
	if d, ok := p.(policy.Describer); ok {
		desc := map[string]any{}
		for k, v := range d.Describe() {
			desc[k] = v
		}
		m["policy"] = desc
	}
	return m
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("OK\n"))
		return
	}
	if s.opts.APIKey != "" {
		want := "Api-Key " + s.opts.APIKey
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept has written the HTTP error.
	}
	defer conn.CloseNow()
	conn.SetReadLimit(s.opts.ReadLimit)
	if err := s.serveConn(r.Context(), conn); err != nil {
		s.opts.Logf("openpi: %s: %v", r.RemoteAddr, err)
	}
}

func (s *server) serveConn(ctx context.Context, conn *websocket.Conn) error {
	if s.bad != nil {
		return s.fail(ctx, conn, s.bad)
	}
	meta := SpecMetadata(s.p)
	maps.Copy(meta, s.opts.Metadata)
	b, err := ndarray.Pack(meta)
	if err != nil {
		return s.fail(ctx, conn, fmt.Errorf("metadata: %w", err))
	}
	if err := conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		return err
	}
	var prevTotal time.Duration
	for {
		start := time.Now()
		typ, data, err := conn.Read(ctx)
		if err != nil {
			if st := websocket.CloseStatus(err); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway {
				return nil
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
		if typ != websocket.MessageBinary {
			return s.fail(ctx, conn, fmt.Errorf("%w: got a text frame, want binary msgpack", policy.ErrBadInput))
		}
		resp, err := s.infer(ctx, data)
		if err != nil {
			return s.fail(ctx, conn, err)
		}
		resp["server_timing"] = map[string]any{
			"infer_ms":      ms(time.Since(start)),
			"prev_total_ms": ms(prevTotal),
		}
		out, err := ndarray.Pack(resp)
		if err != nil {
			return s.fail(ctx, conn, err)
		}
		if err := conn.Write(ctx, websocket.MessageBinary, out); err != nil {
			return err
		}
		prevTotal = time.Since(start)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *server) infer(ctx context.Context, data []byte) (map[string]any, error) {
	v, err := ndarray.Unpack(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: observation is %T, want a map", policy.ErrBadInput, v)
	}
	o, c, err := decoder{layout: s.layout, spec: s.p.Spec()}.decode(m)
	if err != nil {
		return nil, err
	}
	// No steering at all (openpi clients send only a prompt, maybe empty)
	// is no context, so a policy.WithDefaultContext default applies.
	var steer []policy.Context
	if !zeroContext(c) {
		steer = []policy.Context{c}
	}
	t0 := time.Now()
	chunks, err := s.p.Act(ctx, []policy.Observation{o}, steer)
	if err != nil {
		return nil, err
	}
	if len(chunks) != 1 {
		return nil, fmt.Errorf("policy returned %d chunks for one observation", len(chunks))
	}
	a, err := chunkToArray(chunks[0])
	if err != nil {
		return nil, err
	}
	return map[string]any{
		s.layout.Actions: a,
		"policy_timing":  map[string]any{"infer_ms": ms(time.Since(t0))},
	}, nil
}

// fail sends err as a text frame and closes with 1011, as openpi does.
func (s *server) fail(ctx context.Context, conn *websocket.Conn, err error) error {
	_ = conn.Write(ctx, websocket.MessageText, []byte("Error in policy server:\n"+err.Error()))
	_ = conn.Close(websocket.StatusInternalError, closeReason)
	return err
}

func zeroContext(c policy.Context) bool {
	return c.Task == "" && c.Subtask == "" && c.Metadata == (policy.Metadata{}) && len(c.SubgoalImages) == 0
}
