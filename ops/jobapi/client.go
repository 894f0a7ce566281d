package jobapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
)

// Client calls the job API.
type Client struct {
	NC *nats.Conn
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
	msg := nats.NewMsg(SubjectSubmit)
	msg.Data = spec
	if key != "" {
		msg.Header.Set(HeaderIdempotencyKey, key)
	}
	return rep, c.call(ctx, msg, &rep)
}

// Status returns a job's status, with its result once it has one.
func (c Client) Status(ctx context.Context, id string) (job.Status, error) {
	var st job.Status
	return st, c.request(ctx, SubjectStatus, IDRequest{ID: id}, &st)
}

// List lists jobs, newest first.
func (c Client) List(ctx context.Context, r ListRequest) (ListReply, error) {
	var rep ListReply
	return rep, c.request(ctx, SubjectList, r, &rep)
}

// Cancel stops dispatching a job's tasks and marks it cancelled.
func (c Client) Cancel(ctx context.Context, id, reason string) (job.Status, error) {
	var st job.Status
	return st, c.request(ctx, SubjectCancel, IDRequest{ID: id, Reason: reason}, &st)
}

func (c Client) request(ctx context.Context, subject string, req, out any) error {
	raw, err := json.Marshal(req)
	if err != nil {
		return err
	}
	return c.call(ctx, &nats.Msg{Subject: subject, Data: raw}, out)
}

// call sends msg and decodes the reply into out, or returns the coded
// error the service replied with.
func (c Client) call(ctx context.Context, msg *nats.Msg, out any) error {
	rep, err := c.NC.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return fmt.Errorf("jobapi: %s: no job server is running: %w", msg.Subject, errcode.Unavailable)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("jobapi: %s: %w: %w", msg.Subject, errcode.TooLarge, err)
		}
		return fmt.Errorf("jobapi: %s: %w", msg.Subject, err)
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
