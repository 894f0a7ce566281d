package peer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
)

// The options every backend on a peer takes (worldmodel/websocket,
// evaluator/judge/websocket), as strings in its registry options.
const (
	OptURL     = "url"     // the peer, ws://host:port (required)
	OptAPIKey  = "api_key" // sent as "Authorization: Api-Key <key>"
	OptTimeout = "timeout" // per request, a Go duration; default DefaultTimeout
)

// DefaultTimeout bounds one request of a backend, so that a peer that
// hangs fails the call instead of the worker (a VLM judge may be slow).
const DefaultTimeout = 2 * time.Minute

// Options configure a backend's connections to its peer; zero values take
// the defaults.
type Options struct {
	APIKey string
	// Timeout bounds one request; 0 means DefaultTimeout.
	Timeout time.Duration
	// ReadLimit bounds one reply; 0 means DefaultReadLimit.
	ReadLimit int64
}

// Option is a backend's own option: Set reads its value, and its error
// says what the value should be ("want a positive integer").
type Option struct {
	Name string
	Set  func(value string) error
}

// ParseOptions reads a backend's registry options: OptURL (required),
// OptAPIKey, OptTimeout and the backend's own. Errors wrap bad (the
// backend's ErrBadInput).
func ParseOptions(opts map[string]string, bad error, own ...Option) (url string, o Options, err error) {
	timeout := Option{OptTimeout, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration")
		}
		o.Timeout = d
		return nil
	}}
	known := append([]Option{
		{OptURL, func(v string) error { url = v; return nil }},
		{OptAPIKey, func(v string) error { o.APIKey = v; return nil }},
		timeout,
	}, own...)
	names := make([]string, len(known))
	for i, op := range known {
		names[i] = op.Name
	}
	for k, v := range opts {
		i := 0
		for i < len(known) && known[i].Name != k {
			i++
		}
		if i == len(known) {
			return "", o, fmt.Errorf("%w: unknown option %q (known: %s)", bad, k, strings.Join(names, ", "))
		}
		if err := known[i].Set(v); err != nil {
			return "", o, fmt.Errorf("%w: option %s=%q: %v", bad, k, v, err)
		}
	}
	if url == "" {
		return "", o, fmt.Errorf("%w: option %s is required (ws://host:port of the peer)", bad, OptURL)
	}
	return url, o, nil
}

// WithDefaults is o with its zero values replaced by the defaults.
func (o Options) WithDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Connect dials url, both bounded by o.Timeout, and reads the metadata
// frame with parse; a frame parse refuses is internal (the peer is not
// what the backend speaks to), and closes the connection.
func Connect[T any](ctx context.Context, url string, o Options, parse func(meta map[string]any) (T, error)) (*Conn, T, error) {
	var in T
	ctx, cancel := context.WithTimeout(ctx, o.WithDefaults().Timeout)
	defer cancel()
	c, err := Dial(ctx, url, DialOptions{APIKey: o.APIKey, ReadLimit: o.ReadLimit})
	if err != nil {
		return nil, in, err
	}
	if in, err = parse(c.Metadata()); err != nil {
		c.Close()
		return nil, in, errcode.New(errcode.Internal, err.Error())
	}
	return c, in, nil
}

// NewMetadata is the start of a dreamrank peer's metadata frame, the
// entries every protocol has: which one it is (kind and version) and, when
// not nil, what the peer is (describe). The protocol adds its own.
func NewMetadata(kind string, protocol int, describe map[string]string) map[string]any {
	meta := map[string]any{"protocol": protocol, "kind": kind}
	if describe != nil {
		d := make(map[string]any, len(describe))
		for k, v := range describe {
			d[k] = v
		}
		meta["describe"] = d
	}
	return meta
}

// ReadMetadata checks a metadata frame's kind and protocol and returns its
// description (nil when it has none); what names the kind in the error ("a
// judge peer").
func ReadMetadata(meta map[string]any, kind string, protocol int, what string) (map[string]string, error) {
	if k, _ := meta["kind"].(string); k != kind {
		return nil, fmt.Errorf("metadata kind %q, want %q (is this %s?)", meta["kind"], kind, what)
	}
	if p, ok := ndarray.Int(meta["protocol"]); !ok || p != int64(protocol) {
		return nil, fmt.Errorf("metadata protocol %v, this client speaks %d", meta["protocol"], protocol)
	}
	if d, ok := meta["describe"].(map[string]any); ok {
		return Describe(d), nil
	}
	return nil, nil
}

// Describe is a description read from a metadata map: its entries that are
// strings, numbers or bools, as text; others are left out.
func Describe(m map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		switch v.(type) {
		case string, int64, uint64, float64, bool:
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

// BadRequest is a bad_request error, the error of a malformed request.
func BadRequest(format string, args ...any) error {
	return errcode.New(errcode.BadRequest, fmt.Sprintf(format, args...))
}
