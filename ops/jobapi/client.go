package jobapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
)

// Client calls the job API.
type Client struct {
	NC *nats.Conn
	// User, when set, calls user's copy of the API (UserSubject): the
	// server then shows user only user's jobs and counts user's quota.
	User string
}

func (c Client) subject(endpoint string) string {
	if c.User == "" {
		return Prefix + "." + endpoint
	}
	return UserSubject(c.User, endpoint)
}

// Submit sends a spec as JSON with an optional idempotency key (the spec's
// own idempotency_key field works too).
func (c Client) Submit(ctx context.Context, spec job.Spec, key string) (SubmitReply, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return SubmitReply{}, err
	}
	return c.SubmitRaw(ctx, raw, key)
}

// SubmitRaw sends spec bytes as they are; the server reads JSON or YAML.
func (c Client) SubmitRaw(ctx context.Context, spec []byte, key string) (SubmitReply, error) {
	var rep SubmitReply
	msg := nats.NewMsg(c.subject("submit"))
	msg.Data = spec
	if key != "" {
		msg.Header.Set(HeaderIdempotencyKey, key)
	}
	return rep, c.call(ctx, msg, &rep)
}

// Status returns a job's status, with its result once it has one.
func (c Client) Status(ctx context.Context, id string) (job.Status, error) {
	var st job.Status
	return st, c.request(ctx, c.subject("status"), IDRequest{ID: id}, &st)
}

// List lists jobs, newest first.
func (c Client) List(ctx context.Context, r ListRequest) (ListReply, error) {
	var rep ListReply
	return rep, c.request(ctx, c.subject("list"), r, &rep)
}

// Cancel stops dispatching a job's tasks and marks it cancelled.
func (c Client) Cancel(ctx context.Context, id, reason string) (job.Status, error) {
	var st job.Status
	return st, c.request(ctx, c.subject("cancel"), IDRequest{ID: id, Reason: reason}, &st)
}

// Artifact copies the artifact name (of one of the caller's jobs) to w in
// chunks and returns its size.
func (c Client) Artifact(ctx context.Context, name string, w io.Writer) (int64, error) {
	var off int64
	for {
		var rep ArtifactReply
		if err := c.request(ctx, c.subject("artifact"), ArtifactRequest{Name: name, Offset: off}, &rep); err != nil {
			return off, err
		}
		if _, err := w.Write(rep.Data); err != nil {
			return off, err
		}
		off += int64(len(rep.Data))
		if off >= rep.Size || len(rep.Data) == 0 {
			return off, nil
		}
	}
}

func (c Client) request(ctx context.Context, subject string, req, out any) error {
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return c.call(ctx, &nats.Msg{Subject: subject, Data: raw}, out)
}

// call sends msg and decodes the reply into out, or returns the coded
// error the service replied with. A subject the caller's login may not
// publish to fails at once with unauthorized: NATS drops such a request
// and answers with an asynchronous error, which the flush after the
// publish waits for, instead of letting the caller wait out its timeout.
func (c Client) call(ctx context.Context, msg *nats.Msg, out any) error {
	sub, err := c.NC.SubscribeSync(c.NC.NewInbox())
	if err != nil {
		return fmt.Errorf("jobapi: %s: %w", msg.Subject, err)
	}
	defer sub.Unsubscribe()
	msg.Reply = sub.Subject
	if err := c.NC.PublishMsg(msg); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("jobapi: %s: %w: %w", msg.Subject, errcode.TooLarge, err)
		}
		return fmt.Errorf("jobapi: %s: %w", msg.Subject, err)
	}
	if err := c.flush(ctx); err != nil {
		return fmt.Errorf("jobapi: %s: %w", msg.Subject, err)
	}
	if err := c.denied(msg.Subject, sub.Subject); err != nil {
		return err
	}
	rep, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		if derr := c.denied(msg.Subject, sub.Subject); derr != nil {
			return derr
		}
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("jobapi: %s: no job server is running: %w", msg.Subject, errcode.Unavailable)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("jobapi: %s: no reply: %w", msg.Subject, errcode.Timeout)
		}
		return fmt.Errorf("jobapi: %s: %w", msg.Subject, err)
	}
	if rep.Header.Get("Status") == "503" && len(rep.Data) == 0 {
		return fmt.Errorf("jobapi: %s: no job server is running: %w", msg.Subject, errcode.Unavailable)
	}
	if code := rep.Header.Get(micro.ErrorCodeHeader); code != "" {
		var e errcode.Error
		if json.Unmarshal(rep.Data, &e) != nil || e.Code == "" {
			e = errcode.New(errcode.Code(code), rep.Header.Get(micro.ErrorHeader))
		}
		return e
	}
	if err := json.Unmarshal(rep.Data, out); err != nil {
		return fmt.Errorf("jobapi: %s: bad reply: %w", msg.Subject, err)
	}
	return nil
}

// flush waits for the server to have read what was sent (NATS wants a
// deadline for that; a caller without one gets flushTimeout).
func (c Client) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		return c.NC.FlushTimeout(flushTimeout)
	}
	return c.NC.FlushWithContext(ctx)
}

// flushTimeout bounds a flush for callers whose context has no deadline.
const flushTimeout = 10 * time.Second

// denied reports the server's refusal of the request's subject or its
// reply inbox, which the connection keeps as its last error.
func (c Client) denied(subject, inbox string) error {
	err := c.NC.LastError()
	if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
		return nil
	}
	s := err.Error()
	if strings.Contains(s, `"`+subject+`"`) || strings.Contains(s, `"`+inbox+`"`) {
		return fmt.Errorf("jobapi: %s: this login may not use it (%v): %w", subject, err, errcode.Unauthorized)
	}
	return nil
}
