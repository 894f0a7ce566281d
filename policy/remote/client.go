package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
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

// Client is a policy served over NATS. It implements policy.Policy,
// policy.Describer and io.Closer (closing the connection if Open made it).
// It is safe for concurrent use.
type Client struct {
	nc      *nats.Conn
	ownConn bool
	name    string
	opts    DialOptions
	info    infoReply
}

// Dial connects to the policy served under name, checking that a replica
// answers and speaks this protocol. No replica is policy.ErrUnknownPolicy.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Client, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("remote: policy name %q: want [A-Za-z0-9_-]+: %w", name, errcode.BadRequest)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	c := &Client{nc: nc, name: name, opts: opts}
	body, err := c.retry(ctx, "info", func(ctx context.Context, _ int64) ([]byte, error) {
		return c.attempt(ctx, opts.Prefix+"."+name+".info", []byte("{}"), errcode.UnknownPolicy)
	})
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &c.info); err != nil {
		return nil, c.errorf("info", errcode.New(errcode.Internal, fmt.Sprintf("info reply: %v", err)))
	}
	if c.info.Protocol != Protocol {
		return nil, c.errorf("info", errcode.New(errcode.Unavailable, fmt.Sprintf("replica speaks protocol %d, this client %d", c.info.Protocol, Protocol)))
	}
	if c.info.ActSubject == "" {
		return nil, c.errorf("info", errcode.New(errcode.Internal, "info reply without an act subject"))
	}
	if c.opts.MaxRequestBytes <= 0 {
		c.opts.MaxRequestBytes = int(nc.MaxPayload())
		if m := c.info.MaxMessageBytes; m > 0 {
			c.opts.MaxRequestBytes = min(c.opts.MaxRequestBytes, m)
		}
	}
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
	d["remote_policy"] = c.name
	return d
}

// Close closes the NATS connection if Open made it.
func (c *Client) Close() error {
	if c.ownConn {
		c.nc.Close()
	}
	return nil
}

func (c *Client) errorf(op string, err error) error {
	return fmt.Errorf("remote policy %s: %s: %w", c.name, op, err)
}

// Act implements policy.Policy. The batch is sent in as few requests as fit
// the size limit, one after the other; replicas share them through the
// queue group. Errors carry the server's code: errors.Is(err,
// policy.ErrBadInput) holds when the served policy rejected the input.
func (c *Client) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	spec := c.info.Spec
	if err := spec.ValidateInput(obs, steer); err != nil {
		return nil, c.errorf("act", err)
	}
	out := make([]policy.Chunk, 0, len(obs))
	for lo := 0; lo < len(obs); {
		hi, err := c.fit(obs, steer, lo)
		if err != nil {
			return nil, c.errorf("act", err)
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
		return nil, c.errorf("act", errcode.New(errcode.Internal, "reply off the spec: "+err.Error()))
	}
	return out, nil
}

// fit returns the end of the largest batch from lo whose request fits
// MaxRequestBytes (with room for the JSON metadata). A single observation
// that does not fit is too_large.
func (c *Client) fit(obs []policy.Observation, steer []policy.Context, lo int) (int, error) {
	const jsonRoom = 512 // per observation: its context's JSON, generously
	budget := c.opts.MaxRequestBytes - 1024
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
		return lo, errcode.New(errcode.TooLarge, fmt.Sprintf("one observation does not fit a request of %d bytes", c.opts.MaxRequestBytes))
	}
	return hi, nil
}

func (c *Client) act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	id := uuid.NewString()
	body, err := c.retry(ctx, "act", func(ctx context.Context, deadline int64) ([]byte, error) {
		b, err := encodeAct(c.info.Spec, obs, steer, id, deadline)
		if err != nil {
			return nil, err
		}
		// No responders here means the replicas went away after Dial;
		// another may come back, so it is retryable.
		return c.attempt(ctx, c.info.ActSubject, b, errcode.Unavailable)
	})
	if err != nil {
		return nil, err
	}
	chunks, _, err := decodeReply(body, len(obs))
	if err != nil {
		return nil, c.errorf("act", errcode.New(errcode.Internal, "bad act reply: "+err.Error()))
	}
	return chunks, nil
}

// retry runs attempt up to Attempts times while ctx lasts, each bounded by
// Timeout and told its deadline in ms. Only retryable codes are retried.
func (c *Client) retry(ctx context.Context, op string, attempt func(context.Context, int64) ([]byte, error)) ([]byte, error) {
	var err error
	for try := range c.opts.Attempts {
		if cerr := ctx.Err(); cerr != nil {
			return nil, c.errorf(op, cerr)
		}
		if try > 0 && !errors.Is(err, errcode.Timeout) {
			t := time.NewTimer(min(time.Duration(25<<try)*time.Millisecond, time.Second))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, c.errorf(op, fmt.Errorf("%w (after %w)", ctx.Err(), err))
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		deadline, _ := actx.Deadline()
		var body []byte
		body, err = attempt(actx, max(time.Until(deadline).Milliseconds(), 1))
		cancel()
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, c.errorf(op, ctx.Err())
		}
		if !errcode.CodeOf(err).Retryable() {
			break
		}
	}
	return nil, c.errorf(op, err)
}

// attempt sends one request on a fresh inbox and waits for its reply.
// Error replies come back as errcode.Error; no responders as noResponders;
// an expired ctx (the attempt's timeout) as timeout.
func (c *Client) attempt(ctx context.Context, subject string, body []byte, noResponders errcode.Code) ([]byte, error) {
	msg, err := c.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: subject, Data: body})
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, errcode.New(noResponders, "no replica answers on "+subject)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, errcode.New(errcode.Timeout, fmt.Sprintf("no reply on %s within %s", subject, c.opts.Timeout))
	case errors.Is(err, nats.ErrMaxPayload):
		return nil, errcode.New(errcode.TooLarge, err.Error())
	case err != nil:
		return nil, errcode.New(errcode.Unavailable, err.Error())
	}
	if code := msg.Header.Get(HeaderErrorCode); code != "" {
		var e errcode.Error
		if json.Unmarshal(msg.Data, &e) != nil || e.Code == "" {
			e = errcode.Error{Code: errcode.Code(code), Message: msg.Header.Get(HeaderError)}
		}
		return nil, e
	}
	return msg.Data, nil
}
