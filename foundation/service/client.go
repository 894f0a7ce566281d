package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
)

// DialOptions tune a client; zero values take the defaults.
type DialOptions struct {
	// Prefix of the subjects; default the protocol's.
	Prefix string
	// Timeout bounds one attempt of one request (the ctx bounds them all);
	// default the protocol's (30 s; 60 s for judges, which may be slow).
	Timeout time.Duration
	// Attempts per request, the first included: lost messages, timeouts
	// and unavailable replicas are retried, which every protocol makes
	// safe. Default 3.
	Attempts int
	// MaxMessageBytes bounds one assembled reply; default 256 MiB.
	MaxMessageBytes int
	// MaxPartBytes bounds one NATS message of a request; default the
	// connection's max_payload less envelope.PartHeadroom. A protocol
	// without parts sets math.MaxInt.
	MaxPartBytes int
}

// Caller sends a client's requests to the replicas of one served name. It
// is safe for concurrent use.
type Caller struct {
	nc    *nats.Conn
	label string
	name  string
	opts  DialOptions
	// OwnConn: Close closes the connection (the client made it).
	OwnConn bool
}

func newCaller(nc *nats.Conn, label, name string, opts DialOptions, prefix string, timeout time.Duration) *Caller {
	if opts.Prefix == "" {
		opts.Prefix = prefix
	}
	if opts.Timeout <= 0 {
		opts.Timeout = timeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 3
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 256 << 20
	}
	if opts.MaxPartBytes <= 0 {
		opts.MaxPartBytes = max(int(nc.MaxPayload())-envelope.PartHeadroom, 1024)
	}
	return &Caller{nc: nc, label: label, name: name, opts: opts}
}

// Subject is "<prefix>.<name>.<endpoint>", an endpoint all replicas share.
func (c *Caller) Subject(endpoint string) string {
	return c.opts.Prefix + "." + c.name + "." + endpoint
}

// Name is the served name the caller calls.
func (c *Caller) Name() string { return c.name }

// Conn is the caller's connection.
func (c *Caller) Conn() *nats.Conn { return c.nc }

// Options are the caller's options with the defaults filled in.
func (c *Caller) Options() DialOptions { return c.opts }

// Close closes the connection if the caller owns it.
func (c *Caller) Close() error {
	if c.OwnConn {
		c.nc.Close()
	}
	return nil
}

// Errorf is err from operation op, prefixed with the caller's label.
func (c *Caller) Errorf(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", c.label, op, err)
}

// Info asks a replica (one at random, through the queue group) for its
// info (JSON) into info, which must have a "protocol" field equal to
// protocol. No responders (nobody serves the name) is noResponders.
func (c *Caller) Info(ctx context.Context, noResponders errcode.Code, protocol int, info any) error {
	body, err := c.Call(ctx, "info", c.Subject("info"), []byte("{}"), noResponders)
	if err != nil {
		return err
	}
	var v struct {
		Protocol int `json:"protocol"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return c.Errorf("info", errcode.New(errcode.Internal, fmt.Sprintf("info reply: %v", err)))
	}
	if v.Protocol != protocol {
		return c.Errorf("info", errcode.New(errcode.Unavailable, fmt.Sprintf("replica speaks protocol %d, this client %d", v.Protocol, protocol)))
	}
	if err := json.Unmarshal(body, info); err != nil {
		return c.Errorf("info", errcode.New(errcode.Internal, fmt.Sprintf("info reply: %v", err)))
	}
	return nil
}

// Call sends body to subject with retries (see Retry and Request).
func (c *Caller) Call(ctx context.Context, op, subject string, body []byte, noResponders errcode.Code) ([]byte, error) {
	return c.Retry(ctx, op, func(ctx context.Context, _ int64) ([]byte, error) {
		return c.Request(ctx, subject, body, noResponders)
	}, nil)
}

// Request sends one attempt of a request (see envelope.Request).
func (c *Caller) Request(ctx context.Context, subject string, body []byte, noResponders errcode.Code) ([]byte, error) {
	lim := envelope.Limits{MaxPartBytes: c.opts.MaxPartBytes, MaxMessageBytes: c.opts.MaxMessageBytes, Timeout: c.opts.Timeout}
	return envelope.Request(ctx, c.nc, subject, body, lim, noResponders)
}

// Retry runs attempt up to Attempts times while ctx lasts. Each attempt is
// bounded by Timeout and told the milliseconds it has (deadline_ms).
// Retryable codes (a lost message is unavailable, a timed-out attempt is
// timeout) are retried after a short backoff, calling before (if set)
// first; an error from before ends the retries and is returned as it is.
// Other errors are prefixed with the label and op.
func (c *Caller) Retry(ctx context.Context, op string, attempt func(ctx context.Context, deadlineMillis int64) ([]byte, error), before func(context.Context, error) error) ([]byte, error) {
	var err error
	for try := range c.opts.Attempts {
		if cerr := ctx.Err(); cerr != nil {
			return nil, c.Errorf(op, cerr)
		}
		if try > 0 {
			// A timed-out attempt has waited long enough already.
			if !errors.Is(err, errcode.Timeout) {
				if werr := wait(ctx, time.Duration(25<<try)*time.Millisecond); werr != nil {
					return nil, c.Errorf(op, fmt.Errorf("%w (after %w)", werr, err))
				}
			}
			if before != nil {
				if berr := before(ctx, err); berr != nil {
					return nil, berr
				}
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
			return nil, c.Errorf(op, ctx.Err())
		}
		if !errcode.CodeOf(err).Retryable() {
			break
		}
	}
	return nil, c.Errorf(op, err)
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(min(d, time.Second))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
