package openpi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"dreamrank/foundation/peer"
	"dreamrank/policy"
)

// DefaultReadLimit is the largest message either side accepts (bytes).
const DefaultReadLimit = 64 << 20

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
	l := opts.Layout.withDefaults()
	s := &server{p: p, opts: opts, layout: l, bad: l.Validate()}
	return peer.Serve(s.metadata, func() peer.Session { return &session{s: s} },
		peer.ServeOptions{APIKey: opts.APIKey, ReadLimit: opts.ReadLimit, Logf: opts.Logf, ErrorText: errorText})
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

// metadata is the metadata frame of each connection: the policy's spec
// and the options' metadata, or the layout's error.
func (s *server) metadata() (map[string]any, error) {
	if s.bad != nil {
		return nil, s.bad
	}
	meta := SpecMetadata(s.p)
	maps.Copy(meta, s.opts.Metadata)
	return meta, nil
}

// session serves one connection's observations.
type session struct {
	s         *server
	prevTotal time.Duration
}

func (c *session) Handle(ctx context.Context, req map[string]any) (map[string]any, error) {
	start := time.Now()
	resp, err := c.s.infer(ctx, req)
	if err != nil {
		return nil, err
	}
	resp["server_timing"] = map[string]any{
		"infer_ms":      ms(time.Since(start)),
		"prev_total_ms": ms(c.prevTotal),
	}
	c.prevTotal = time.Since(start)
	return resp, nil
}

func (*session) Close() {}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (s *server) infer(ctx context.Context, m map[string]any) (map[string]any, error) {
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

// errorText is an error frame's text, as openpi's server words it (free
// text, no errcode).
func errorText(err error) string { return "Error in policy server:\n" + err.Error() }

func zeroContext(c policy.Context) bool {
	return c.Task == "" && c.Subtask == "" && c.Metadata == (policy.Metadata{}) && len(c.SubgoalImages) == 0
}
