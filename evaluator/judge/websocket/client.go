package websocket

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/peer"
)

// BackendName is the registry name of judges served by websocket peers.
const BackendName = "websocket"

// Options of the "websocket" judge.
const (
	OptURL     = peer.OptURL     // the peer, ws://host:port (required)
	OptAPIKey  = peer.OptAPIKey  // sent as "Authorization: Api-Key <key>"
	OptTimeout = peer.OptTimeout // per request, a Go duration; default DefaultTimeout
	// OptMaxRequestBytes splits larger batches into several requests;
	// default DefaultMaxRequestBytes, or less if the peer announces less.
	OptMaxRequestBytes = "max_request_bytes"
)

// Defaults.
const (
	// DefaultTimeout bounds one request; a VLM may be slow.
	DefaultTimeout = peer.DefaultTimeout
	// DefaultMaxRequestBytes keeps requests well under common websocket
	// servers' limits once raised from their defaults (Python websockets
	// accepts 1 MiB unless told max_size; the examples lift it).
	DefaultMaxRequestBytes = 64 << 20
	// maxIdle connections are kept for the next calls.
	maxIdle = 4
)

func init() {
	judge.Register(BackendName, func(ctx context.Context, opts judge.Options) (judge.Judge, error) {
		var maxBytes int64
		url, o, err := peer.ParseOptions(opts, judge.ErrBadInput, peer.Option{Name: OptMaxRequestBytes, Set: func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return errors.New("want a positive integer")
			}
			maxBytes = n
			return nil
		}})
		if err != nil {
			return nil, err
		}
		return Dial(ctx, url, Options{APIKey: o.APIKey, Timeout: o.Timeout, MaxRequestBytes: maxBytes})
	})
}

// Options configure Dial; zero values take the defaults.
type Options struct {
	APIKey string
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRequestBytes: larger batches go as several requests; 0 means
	// DefaultMaxRequestBytes (or the peer's max_message_bytes if lower).
	MaxRequestBytes int64
	// ReadLimit bounds one reply; 0 means peer.DefaultReadLimit.
	ReadLimit int64
}

// peer is the options of the connections, with the defaults.
func (o Options) peer() peer.Options {
	return peer.Options{APIKey: o.APIKey, Timeout: o.Timeout, ReadLimit: o.ReadLimit}.WithDefaults()
}

// Client is a judge served by a websocket peer; it implements judge.Judge
// and io.Closer and is safe for concurrent use.
type Client struct {
	url  string
	opts Options
	info info

	mu   sync.Mutex
	idle []*peer.Conn
}

// Dial connects to the peer, reads its metadata and keeps the connection
// for the first call.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	opts.Timeout = opts.peer().Timeout
	if opts.MaxRequestBytes <= 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	c := &Client{url: peer.URL(url), opts: opts}
	conn, in, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.info = in
	if in.maxMessageBytes > 0 {
		c.opts.MaxRequestBytes = min(c.opts.MaxRequestBytes, in.maxMessageBytes)
	}
	c.idle = append(c.idle, conn)
	return c, nil
}

func (c *Client) connect(ctx context.Context) (*peer.Conn, info, error) {
	conn, in, err := peer.Connect(ctx, c.url, c.opts.peer(), parseMetadata)
	if err != nil {
		return nil, in, c.errorf("connect", err)
	}
	return conn, in, nil
}

func (c *Client) errorf(op string, err error) error {
	return fmt.Errorf("websocket judge %s: %s: %w", c.url, op, err)
}

// Describe is the peer's description plus its address.
func (c *Client) Describe() map[string]string {
	d := maps.Clone(c.info.describe)
	if d == nil {
		d = map[string]string{}
	}
	d["websocket_url"] = c.url
	return d
}

// Close closes the idle connections; calls in flight close theirs.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conn := range idle {
		conn.Close()
	}
	return nil
}

// Judge implements judge.Judge: one request per part of the batch that
// fits MaxRequestBytes (verdicts do not depend on the batch).
func (c *Client) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	for i, e := range eps {
		if err := e.Validate(); err != nil {
			return nil, c.errorf("judge", fmt.Errorf("episode %d: %w", i, err))
		}
	}
	out := make([]judge.Verdict, 0, len(eps))
	for len(eps) > 0 {
		n, size := 1, episodeBytes(eps[0])
		for n < len(eps) && size+episodeBytes(eps[n]) <= c.opts.MaxRequestBytes {
			size += episodeBytes(eps[n])
			n++
		}
		vs, err := c.call(ctx, eps[:n])
		if err != nil {
			return nil, err
		}
		out, eps = append(out, vs...), eps[n:]
	}
	return out, nil
}

// call judges one request's episodes. A kept connection the peer has
// dropped since (a restart) is no answer: the request goes again on a
// fresh one, as judging is stateless.
func (c *Client) call(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	req := encodeRequest(eps)
	steps := make([]int, len(eps))
	for i, e := range eps {
		steps[i] = len(e.Frames)
	}
	if err := ctx.Err(); err != nil {
		return nil, c.errorf("judge", err)
	}
	for {
		conn, kept, err := c.conn(ctx)
		if err != nil {
			return nil, err
		}
		cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		resp, err := conn.Call(cctx, req)
		cancel()
		if err != nil {
			conn.Close()
			if kept && errors.Is(err, peer.ErrClosed) && ctx.Err() == nil {
				continue
			}
			return nil, c.errorf("judge", err)
		}
		vs, err := decodeReply(resp, steps)
		if err != nil {
			conn.Close() // off the protocol: do not trust what follows
			return nil, c.errorf("judge", errcode.New(errcode.Internal, "bad reply: "+err.Error()))
		}
		c.put(conn)
		return vs, nil
	}
}

// conn is an idle connection (kept) or a new one.
func (c *Client) conn(ctx context.Context) (*peer.Conn, bool, error) {
	c.mu.Lock()
	if n := len(c.idle); n > 0 {
		conn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return conn, true, nil
	}
	c.mu.Unlock()
	conn, _, err := c.connect(ctx)
	return conn, false, err
}

func (c *Client) put(conn *peer.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.idle) >= maxIdle {
		conn.Close()
		return
	}
	c.idle = append(c.idle, conn)
}
