package openpi

import (
	"context"
	"dreamrank/foundation/ndarray"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"dreamrank/policy"
)

// Client errors.
var (
	// ErrUnauthorized: the server refused the API key (HTTP 401).
	ErrUnauthorized = errors.New("openpi: unauthorized")
	// ErrClosed: the connection was closed (by Close, a server error or a
	// cancelled call); Dial again.
	ErrClosed = errors.New("openpi: connection closed")
)

// ServerError is an error the server reported: the text frame it sent (a
// traceback for openpi's Python server) and the close code that followed
// (1011 normally; 0 if none arrived).
type ServerError struct {
	Message string
	Code    websocket.StatusCode
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("openpi: server error (close %d): %s", int(e.Code), e.Message)
}

// ClientOptions configure Dial.
type ClientOptions struct {
	// APIKey, if set, is sent as "Authorization: Api-Key <key>".
	APIKey string
	// Keys name the observation entries; zero fields take DefaultKeys.
	Keys Keys
	// Spec fills what the server's metadata frame does not say (an openpi
	// Python server says nothing about sizes; the frame size is needed to
	// shape images).
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
	mu   sync.Mutex
	conn *websocket.Conn
	keys Keys
	spec policy.Spec
	meta map[string]any
	err  error // set once the connection is unusable
}

func init() {
	policy.Register("openpi", func(ctx context.Context, opts policy.Options) (policy.Policy, error) {
		if opts["url"] == "" {
			return nil, fmt.Errorf("openpi: option url is required")
		}
		return Dial(ctx, opts["url"], ClientOptions{APIKey: opts["api_key"]})
	})
}

// Dial connects to an openpi server ("ws://host:port", "http://host:port" or
// "host:port") and reads its metadata frame.
func Dial(ctx context.Context, url string, opts ClientOptions) (*Client, error) {
	switch {
	case strings.HasPrefix(url, "http://"):
		url = "ws://" + strings.TrimPrefix(url, "http://")
	case strings.HasPrefix(url, "https://"):
		url = "wss://" + strings.TrimPrefix(url, "https://")
	case !strings.HasPrefix(url, "ws://") && !strings.HasPrefix(url, "wss://"):
		url = "ws://" + url
	}
	hdr := http.Header{}
	if opts.APIKey != "" {
		hdr.Set("Authorization", "Api-Key "+opts.APIKey)
	}
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:      opts.HTTPClient,
		HTTPHeader:      hdr,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: %s", ErrUnauthorized, url)
		}
		return nil, fmt.Errorf("openpi: dial %s: %w", url, err)
	}
	if opts.ReadLimit == 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	conn.SetReadLimit(opts.ReadLimit)
	c := &Client{conn: conn, keys: opts.Keys.withDefaults(), spec: opts.Spec}
	v, err := c.read(ctx)
	if err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("openpi: metadata frame: %w", err)
	}
	meta, ok := v.(map[string]any)
	if !ok {
		conn.CloseNow()
		return nil, fmt.Errorf("%w: metadata is %T, want a map", ndarray.ErrBadMessage, v)
	}
	c.meta = meta
	for key, dst := range map[string]*int{
		"frame_h": &c.spec.FrameH, "frame_w": &c.spec.FrameW, "channels": &c.spec.Channels,
		"proprio_dim": &c.spec.ProprioDim, "action_dim": &c.spec.ActionDim, "action_horizon": &c.spec.ChunkLen,
	} {
		if n, ok := ndarray.Int(meta[key]); ok && n > 0 && n < 1<<30 {
			*dst = int(n)
		}
	}
	if hz, ok := meta["control_hz"].(float64); ok && hz > 0 {
		c.spec.ControlHz = hz
	}
	return c, nil
}

// Metadata is the server's metadata frame.
func (c *Client) Metadata() map[string]any { return c.meta }

// Spec is ClientOptions.Spec overridden by what the metadata frame says.
func (c *Client) Spec() policy.Spec { return c.spec }

// Describe reports the server's metadata entries that are strings or numbers.
func (c *Client) Describe() map[string]string {
	out := map[string]string{"backend": "openpi"}
	for k, v := range c.meta {
		switch v.(type) {
		case string, int64, uint64, float64, bool:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// Act sends each observation in turn and returns the chunks.
func (c *Client) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	if err := c.spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		var sc *policy.Context
		if steer != nil {
			sc = &steer[i]
		}
		m, err := encodeObs(c.keys, c.spec, o, sc)
		if err != nil {
			return nil, fmt.Errorf("observation %d: %w", i, err)
		}
		resp, err := c.Infer(ctx, m)
		if err != nil {
			return nil, err
		}
		if out[i], err = chunkFromArray(resp[c.keys.Actions]); err != nil {
			return nil, err
		}
	}
	if err := c.spec.ValidateChunks(out, len(obs)); err != nil {
		return nil, fmt.Errorf("openpi: server response: %w", err)
	}
	return out, nil
}

// Infer sends one raw observation (see Pack for the value types) and returns
// the raw response (actions, policy_timing, server_timing, ...).
func (c *Client) Infer(ctx context.Context, obs map[string]any) (map[string]any, error) {
	b, err := ndarray.Pack(obs)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, c.err
	}
	if err := c.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		c.broken(err)
		return nil, err
	}
	v, err := c.read(ctx)
	if err != nil {
		var se *ServerError
		if errors.As(err, &se) || ctx.Err() != nil || isConnErr(err) {
			c.broken(err)
		}
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: response is %T, want a map", ndarray.ErrBadMessage, v)
	}
	return m, nil
}

func isConnErr(err error) bool {
	return !errors.Is(err, ndarray.ErrBadMessage) && !errors.Is(err, ndarray.ErrBadArray)
}

func (c *Client) broken(err error) {
	c.err = fmt.Errorf("%w: %v", ErrClosed, err)
	c.conn.CloseNow()
}

// read reads one message; a text frame becomes a *ServerError carrying the
// close code that follows it.
func (c *Client) read(ctx context.Context) (any, error) {
	typ, data, err := c.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ == websocket.MessageText {
		se := &ServerError{Message: string(data)}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, _, err := c.conn.Read(rctx); err != nil {
			se.Code = websocket.CloseStatus(err)
			if se.Code < 0 {
				se.Code = 0
			}
		}
		return nil, se
	}
	return ndarray.Unpack(data)
}

// Close closes the connection normally.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil
	}
	c.err = ErrClosed
	return c.conn.Close(websocket.StatusNormalClosure, "")
}
