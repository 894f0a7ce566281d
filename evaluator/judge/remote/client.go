package remote

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
)

// DialOptions tune a client; zero values take the defaults (Prefix
// DefaultPrefix, Timeout 60 s).
type DialOptions = service.DialOptions

// dialer holds the protocol's client defaults and backend options; a VLM
// may be slow, hence the longer timeout.
var dialer = service.Dialer{
	Label: "remote judge", Prefix: DefaultPrefix, Timeout: 60 * time.Second,
	NameOption: OptJudge, Client: "judge", Bad: judge.ErrBadInput,
}

// Client is a judge served over NATS; it implements judge.Judge and is
// safe for concurrent use.
type Client struct {
	call *service.Caller

	mu   sync.Mutex
	info infoReply
}

// Dial finds a replica of the named judge. The connection stays the
// caller's.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Client, error) {
	call, err := dialer.Caller(nc, name, opts)
	if err != nil {
		return nil, err
	}
	return newClient(ctx, call)
}

// Open is the "remote" judge's opener: it connects to NATS itself and dials
// the judge; Close on the result closes that connection.
var Open = service.Opener[judge.Options](dialer, openJudge)

// openJudge is newClient for the registry: its client as a judge.Judge.
func openJudge(ctx context.Context, call *service.Caller) (judge.Judge, error) {
	return newClient(ctx, call)
}

func newClient(ctx context.Context, call *service.Caller) (*Client, error) {
	c := &Client{call: call}
	info, err := c.fetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	c.info = info
	return c, nil
}

// fetchInfo asks for a replica; none is judge.ErrUnknownJudge.
func (c *Client) fetchInfo(ctx context.Context) (infoReply, error) {
	var info infoReply
	if err := c.call.Info(ctx, errcode.UnknownJudge, Protocol, &info); err != nil {
		return info, err
	}
	if info.JudgeSubject == "" {
		return info, c.call.Errorf("info", errcode.New(errcode.Internal, "info reply without a judge subject"))
	}
	return info, nil
}

// Describe is what the replica announced about its judge.
func (c *Client) Describe() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info.Describe
}

// Close closes the connection when the client made it (Open); otherwise it
// does nothing.
func (c *Client) Close() error { return c.call.Close() }

// Judge sends the episodes in one request and returns the verdicts. It
// retries after a timeout, a lost part or an unavailable replica (asking
// for a replica again when the last one stopped answering); judging is
// stateless, so a retry is always safe.
func (c *Client) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	if len(eps) == 0 {
		return []judge.Verdict{}, nil // a request carries at least one episode
	}
	id := uuid.NewString()
	body, err := c.call.Retry(ctx, "judge", func(ctx context.Context, deadline int64) ([]byte, error) {
		b, err := encodeRequest(id, deadline, eps)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		subject := c.info.JudgeSubject
		c.mu.Unlock()
		return c.call.Request(ctx, subject, b, errcode.Unavailable)
	}, c.refresh)
	if err != nil {
		return nil, err
	}
	var rep judgeReply
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, c.call.Errorf("reply", errcode.New(errcode.Internal, err.Error()))
	}
	if err := checkVerdicts(rep.Verdicts, eps); err != nil {
		return nil, c.call.Errorf("reply", errcode.New(errcode.Internal, err.Error()))
	}
	return rep.Verdicts, nil
}

// refresh asks for a replica again after the last one stopped answering;
// if none answers, the next attempt fails as the last did.
func (c *Client) refresh(ctx context.Context, err error) error {
	if !errors.Is(err, errcode.Unavailable) {
		return nil
	}
	if info, ierr := c.fetchInfo(ctx); ierr == nil {
		c.mu.Lock()
		c.info = info
		c.mu.Unlock()
	}
	return nil
}
