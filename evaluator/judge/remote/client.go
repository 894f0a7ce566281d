package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
)

// DialOptions tune a client; zero values take the defaults.
type DialOptions struct {
	Prefix string // default DefaultPrefix
	// Timeout bounds each attempt; default 60 s (a VLM may be slow).
	Timeout time.Duration
	// Attempts per request, counting the first; default 3.
	Attempts int
	// MaxPartBytes bounds one NATS message of a request; default the
	// connection's max_payload less 4 KiB.
	MaxPartBytes int
	// MaxMessageBytes bounds an assembled reply; default 256 MiB.
	MaxMessageBytes int
}

func (o *DialOptions) defaults(nc *nats.Conn) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = max(int(nc.MaxPayload())-partHeadroom, 1024)
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 256 << 20
	}
}

// Client is a judge served over NATS; it implements judge.Judge and is
// safe for concurrent use.
type Client struct {
	nc    *nats.Conn
	name  string
	opts  DialOptions
	owned bool // Close closes nc

	mu   sync.Mutex
	info infoReply
}

// Dial finds a replica of the named judge. The connection stays the
// caller's.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Client, error) {
	opts.defaults(nc)
	c := &Client{nc: nc, name: name, opts: opts}
	info, err := c.fetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	c.info = info
	return c, nil
}

// Describe is what the replica announced about its judge.
func (c *Client) Describe() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Describe
}

// Close closes the connection when the client made it (Open); otherwise it
// does nothing.
func (c *Client) Close() error {
	if c.owned {
		c.nc.Close()
	}
	return nil
}

func (c *Client) fetchInfo(ctx context.Context) (infoReply, error) {
	subj := c.opts.Prefix + "." + c.name + ".info"
	actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	msg, err := c.nc.RequestWithContext(actx, subj, []byte("{}"))
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return infoReply{}, fmt.Errorf("remote judge %q: %w: nobody serves %s", c.name, judge.ErrUnknownJudge, subj)
	case err != nil:
		return infoReply{}, fmt.Errorf("remote judge %q: info: %w", c.name, errcode.New(errcode.Unavailable, err.Error()))
	}
	var info infoReply
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		return infoReply{}, fmt.Errorf("remote judge %q: info reply: %w", c.name, errcode.New(errcode.Internal, err.Error()))
	}
	if info.Protocol != Protocol {
		return infoReply{}, fmt.Errorf("remote judge %q: replica speaks protocol %d, this client %d: %w", c.name, info.Protocol, Protocol, errcode.BadRequest)
	}
	return info, nil
}

// Judge sends the episodes in one request and returns the verdicts. It
// retries after a timeout, a lost part or an unavailable replica (asking
// for a replica again when the last one stopped answering); judging is
// stateless, so a retry is always safe.
func (c *Client) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	id := uuid.NewString()
	var err error
	for try := range c.opts.Attempts {
		if try > 0 {
			if !errors.Is(err, errcode.Timeout) {
				t := time.NewTimer(time.Duration(50<<try) * time.Millisecond)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return nil, fmt.Errorf("remote judge %q: %w (after %w)", c.name, ctx.Err(), err)
				}
			}
			if errors.Is(err, errcode.Unavailable) {
				if info, ierr := c.fetchInfo(ctx); ierr == nil {
					c.mu.Lock()
					c.info = info
					c.mu.Unlock()
				}
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		deadline, _ := actx.Deadline()
		var body []byte
		body, err = encodeRequest(id, time.Until(deadline).Milliseconds(), eps)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("remote judge %q: %w", c.name, err)
		}
		c.mu.Lock()
		subj := c.info.JudgeSubject
		c.mu.Unlock()
		var out []byte
		out, err = c.attempt(actx, subj, body)
		cancel()
		if err == nil {
			var rep judgeReply
			if uerr := json.Unmarshal(out, &rep); uerr != nil {
				return nil, fmt.Errorf("remote judge %q: reply: %w", c.name, errcode.New(errcode.Internal, uerr.Error()))
			}
			if cerr := checkVerdicts(rep.Verdicts, eps); cerr != nil {
				return nil, fmt.Errorf("remote judge %q: reply: %w", c.name, errcode.New(errcode.Internal, cerr.Error()))
			}
			return rep.Verdicts, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("remote judge %q: %w", c.name, ctx.Err())
		}
		if !errcode.CodeOf(err).Retryable() {
			break
		}
	}
	return nil, fmt.Errorf("remote judge %q: %w", c.name, err)
}

// attempt sends one request (see envelope.Request).
func (c *Client) attempt(ctx context.Context, subject string, body []byte) ([]byte, error) {
	lim := envelope.Limits{MaxPartBytes: c.opts.MaxPartBytes, MaxMessageBytes: c.opts.MaxMessageBytes, Timeout: c.opts.Timeout}
	return envelope.Request(ctx, c.nc, subject, body, lim, errcode.Unavailable)
}
