package openpi

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
	"dreamrank/policy"
)

// Client errors. They carry no errcode code (internal on the bus): the
// peer kit's codes are for dreamrank's own peers.
var (
	// ErrUnauthorized: the server refused the API key (HTTP 401).
	ErrUnauthorized = errors.New("openpi: unauthorized")
	// ErrClosed: the connection was closed (by Close, a server error or a
	// cancelled call); Dial again.
	ErrClosed = errors.New("openpi: connection closed")
)

// ServerError is an error the server reported: the text frame it sent (a
// traceback for openpi's Python server) and the close code that followed
// (1011 normally; 0 if none arrived). The text is free: unlike
// peer.ServerError it is not read for an errcode code.
type ServerError struct {
	Message string
	Code    websocket.StatusCode
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("openpi: server error (close %d): %s", int(e.Code), e.Message)
}

// fromPeer turns the connection's errors into this package's: a
// *ServerError, ErrUnauthorized and ErrClosed, without the kit's codes.
func fromPeer(err error) error {
	var se *peer.ServerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return &ServerError{Message: se.Message, Code: se.Code}
	case errors.Is(err, peer.ErrUnauthorized):
		return fmt.Errorf("%w: %v", ErrUnauthorized, err)
	case errors.Is(err, peer.ErrClosed):
		return fmt.Errorf("%w: %v", ErrClosed, err)
	case errors.Is(err, peer.ErrUnavailable):
		return fmt.Errorf("openpi: %v", err)
	}
	return err
}

// ClientOptions configure Dial.
type ClientOptions struct {
	// APIKey, if set, is sent as "Authorization: Api-Key <key>".
	APIKey string
	// Layout says what observations look like on the wire; the zero value
	// is the flat layout.
	Layout Layout
	// Spec gives the local frame size (the camera's; when neither it nor
	// the metadata says, square RGB frames are sized from their byte
	// count) and whatever else the server's metadata frame does not say.
	// openpi's Python servers say nothing: the action dimension and
	// horizon are then read from the first reply.
	Spec policy.Spec
	// ReadLimit bounds incoming messages; 0 means DefaultReadLimit.
	ReadLimit int64
	// HTTPClient dials the connection; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Client is a policy served by an openpi-compatible websocket server. It
// implements policy.Policy; a batch is sent as sequential requests over the
// one connection, and calls are serialised. A cancelled call closes the
// connection (the protocol has no way to abandon a request).
type Client struct {
	conn *peer.Conn // serialises requests
	enc  encoder

	specMu sync.Mutex  // apart from the connection, so Spec does not wait for a request
	spec   policy.Spec // the first reply may complete it
}

// Dial connects to an openpi server ("ws://host:port", "http://host:port" or
// "host:port") and reads its metadata frame.
func Dial(ctx context.Context, url string, opts ClientOptions) (*Client, error) {
	layout := opts.Layout.withDefaults()
	if err := layout.Validate(); err != nil {
		return nil, err
	}
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	conn, err := peer.Dial(ctx, url, peer.DialOptions{APIKey: opts.APIKey, ReadLimit: opts.ReadLimit, HTTPClient: opts.HTTPClient})
	if err != nil {
		return nil, fromPeer(err)
	}
	c := &Client{conn: conn}
	c.spec, c.enc = fromMetadata(conn.Metadata(), layout, opts.Spec)
	return c, nil
}

// fromMetadata completes the spec with what the metadata says and sets up
// the encoder. A dreamrank server's metadata gives its policy's frame size:
// it is the wire size when the layout gives none, and then also the local
// frame size unless the spec gives one (so frames are sent as they are).
func fromMetadata(meta map[string]any, l Layout, spec policy.Spec) (policy.Spec, encoder) {
	said := func(key string) int {
		if n, ok := ndarray.Int(meta[key]); ok && n > 0 && n < 1<<30 {
			return int(n)
		}
		return 0
	}
	enc := encoder{layout: l}
	fh, fw, ch := said("frame_h"), said("frame_w"), said("channels")
	if l.Height == 0 && fh > 0 && fw > 0 {
		enc.wireHW = [2]int{fh, fw}
		if spec.FrameLen() == 0 && ch > 0 {
			spec.FrameH, spec.FrameW, spec.Channels = fh, fw, ch
		}
	}
	for key, dst := range map[string]*int{"proprio_dim": &spec.ProprioDim, "action_dim": &spec.ActionDim, "action_horizon": &spec.ChunkLen} {
		if *dst == 0 {
			*dst = said(key)
		}
	}
	if spec.ProprioDim == 0 && l.State[len(l.State)-1].Size > 0 {
		for _, s := range l.State {
			spec.ProprioDim += s.Size
		}
	}
	if hz, ok := meta["control_hz"].(float64); ok && hz > 0 && spec.ControlHz == 0 {
		spec.ControlHz = hz
	}
	if spec.FrameLen() > 0 {
		enc.local = shape{spec.FrameH, spec.FrameW, spec.Channels}
	}
	return spec, enc
}

// Metadata is the server's metadata frame.
func (c *Client) Metadata() map[string]any { return c.conn.Metadata() }

// Spec is ClientOptions.Spec completed by the metadata frame and, for
// the action dimension and horizon when neither says, by the first reply.
func (c *Client) Spec() policy.Spec {
	c.specMu.Lock()
	defer c.specMu.Unlock()
	return c.spec
}

// Layout is the layout observations are sent in.
func (c *Client) Layout() Layout { return c.enc.layout }

// Describe reports the layout and the server's metadata entries that are
// strings or numbers.
func (c *Client) Describe() map[string]string {
	out := map[string]string{"backend": "openpi", "layout": c.enc.layout.Name}
	maps.Copy(out, peer.Describe(c.conn.Metadata()))
	return out
}

// Act sends each observation in turn and returns the chunks.
func (c *Client) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if err := c.Spec().ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		var sc *policy.Context
		if steer != nil {
			sc = &steer[i]
		}
		m, err := c.enc.encode(o, sc)
		if err != nil {
			return nil, fmt.Errorf("observation %d: %w", i, err)
		}
		resp, err := c.Infer(ctx, m)
		if err != nil {
			return nil, err
		}
		if out[i], err = chunkFromArray(resp[c.enc.layout.Actions]); err != nil {
			return nil, err
		}
		c.learn(out[i])
	}
	if err := c.Spec().ValidateChunks(out, len(obs)); err != nil {
		return nil, fmt.Errorf("openpi: server response: %w", err)
	}
	return out, nil
}

// learn takes the action dimension and horizon from the first reply when
// neither the options nor the metadata said them; later replies must
// agree.
func (c *Client) learn(ch policy.Chunk) {
	c.specMu.Lock()
	defer c.specMu.Unlock()
	if c.spec.ChunkLen == 0 && len(ch.Actions) > 0 {
		c.spec.ChunkLen = len(ch.Actions)
	}
	if c.spec.ActionDim == 0 && len(ch.Actions) > 0 {
		c.spec.ActionDim = len(ch.Actions[0])
	}
}

// Infer sends one raw observation (see ndarray.Pack for the value types)
// and returns the raw response (actions, policy_timing, server_timing, ...).
func (c *Client) Infer(ctx context.Context, obs map[string]any) (map[string]any, error) {
	resp, err := c.conn.Call(ctx, obs)
	return resp, fromPeer(err)
}

// Close closes the connection normally.
func (c *Client) Close() error { return c.conn.Close() }
