package remote

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/policy"
)

// DialOptions tune a client; zero values take the defaults.
type DialOptions struct {
	// Prefix of the subjects; default DefaultPrefix.
	Prefix string
	// Timeout bounds one attempt of one request (ctx bounds them all);
	// default 30s.
	Timeout time.Duration
	// Attempts per request, the first included. Act is stateless, so lost
	// messages, timeouts and unavailable replicas are retried safely.
	// Default 3.
	Attempts int
	// MaxRequestBytes bounds one request; larger batches are split into
	// several requests. Default the smaller of the connection's max_payload
	// and the replica's max_message_bytes.
	MaxRequestBytes int
}

// dialer holds the protocol's client defaults and backend options. Act
// requests are one NATS message each: the client splits batches instead.
var dialer = service.Dialer{
	Label: "remote policy", Prefix: DefaultPrefix, Timeout: 30 * time.Second, Whole: true,
	NameOption: OptPolicy, Client: "policy", Bad: policy.ErrBadInput,
}

// Client is a policy served over NATS. It implements policy.Policy,
// policy.Describer and io.Closer (closing the connection if Open made it).
// It is safe for concurrent use.
type Client struct {
	call       *service.Caller
	maxRequest int // bytes of one act request
	info       infoReply
}

// Dial connects to the policy served under name, checking that a replica
// answers and speaks this protocol. No replica is policy.ErrUnknownPolicy.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Client, error) {
	call, err := dialer.Caller(nc, name, service.DialOptions{Prefix: opts.Prefix, Timeout: opts.Timeout, Attempts: opts.Attempts})
	if err != nil {
		return nil, err
	}
	return newClient(ctx, call, opts.MaxRequestBytes)
}

// Open is the "nats" backend's opener: it connects to NATS itself and dials
// the policy. The returned *Client owns the connection; Close closes it.
var Open = service.Opener[policy.Options](dialer, openPolicy)

// openPolicy is newClient for the registry: its client as a policy.Policy.
func openPolicy(ctx context.Context, call *service.Caller) (policy.Policy, error) {
	return newClient(ctx, call, 0)
}

func newClient(ctx context.Context, call *service.Caller, maxRequest int) (*Client, error) {
	c := &Client{call: call}
	if err := call.Info(ctx, errcode.UnknownPolicy, Protocol, &c.info); err != nil {
		return nil, err
	}
	if c.info.ActSubject == "" {
		return nil, call.Errorf("info", errcode.New(errcode.Internal, "info reply without an act subject"))
	}
	if maxRequest <= 0 {
		maxRequest = int(call.Conn().MaxPayload())
		if m := c.info.MaxMessageBytes; m > 0 {
			maxRequest = min(maxRequest, m)
		}
	}
	c.maxRequest = maxRequest
	return c, nil
}

// Spec implements policy.Policy: the served policy's spec.
func (c *Client) Spec() policy.Spec { return c.info.Spec }

// Describe implements policy.Describer: the served policy's description
// plus remote_policy (the served name).
func (c *Client) Describe() map[string]string {
	d := maps.Clone(c.info.Describe)
	if d == nil {
		d = map[string]string{}
	}
	if _, ok := d["backend"]; !ok {
		d["backend"] = BackendName
	}
	d["remote_policy"] = c.call.Name()
	return d
}

// Close closes the NATS connection if Open made it.
func (c *Client) Close() error { return c.call.Close() }

// Act implements policy.Policy. The batch is sent in as few requests as fit
// the size limit, one after the other; replicas share them through the
// queue group. Errors carry the server's code: errors.Is(err,
// policy.ErrBadInput) holds when the served policy rejected the input.
func (c *Client) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	spec := c.info.Spec
	if err := spec.ValidateInput(obs, steer); err != nil {
		return nil, c.call.Errorf("act", err)
	}
	out := make([]policy.Chunk, 0, len(obs))
	for lo := 0; lo < len(obs); {
		hi, err := c.fit(obs, steer, lo)
		if err != nil {
			return nil, c.call.Errorf("act", err)
		}
		var st []policy.Context
		if steer != nil {
			st = steer[lo:hi]
		}
		chunks, err := c.act(ctx, obs[lo:hi], st)
		if err != nil {
			return nil, err
		}
		out = append(out, chunks...)
		lo = hi
	}
	if err := spec.ValidateChunks(out, len(obs)); err != nil {
		return nil, c.call.Errorf("act", errcode.New(errcode.Internal, "reply off the spec: "+err.Error()))
	}
	return out, nil
}

// fit returns the end of the largest batch from lo whose request fits
// MaxRequestBytes (with room for the JSON metadata). A single observation
// that does not fit is too_large.
func (c *Client) fit(obs []policy.Observation, steer []policy.Context, lo int) (int, error) {
	const jsonRoom = 512 // per observation: its context's JSON, generously
	budget := c.maxRequest - 1024
	hi, used := lo, 0
	for hi < len(obs) {
		o := obs[hi]
		size := len(o.Image) + 4*len(o.Proprio) + jsonRoom
		for _, f := range o.Frames {
			size += len(f)
		}
		if steer != nil {
			for _, g := range steer[hi].SubgoalImages {
				size += len(g)
			}
			size += len(steer[hi].Task) + len(steer[hi].Subtask)
		}
		if used+size > budget {
			break
		}
		used += size
		hi++
	}
	if hi == lo {
		return lo, errcode.New(errcode.TooLarge, fmt.Sprintf("one observation does not fit a request of %d bytes", c.maxRequest))
	}
	return hi, nil
}

func (c *Client) act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	id := uuid.NewString()
	body, err := c.call.Retry(ctx, "act", func(ctx context.Context, deadline int64) ([]byte, error) {
		b, err := encodeAct(c.info.Spec, obs, steer, id, deadline)
		if err != nil {
			return nil, err
		}
		// No responders here means the replicas went away after Dial;
		// another may come back, so it is retryable.
		return c.call.Request(ctx, c.info.ActSubject, b, errcode.Unavailable)
	}, nil)
	if err != nil {
		return nil, err
	}
	chunks, _, err := decodeReply(body, len(obs))
	if err != nil {
		return nil, c.call.Errorf("act", errcode.New(errcode.Internal, "bad act reply: "+err.Error()))
	}
	return chunks, nil
}
