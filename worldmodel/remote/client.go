package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/worldmodel"
)

// DialOptions tune a client; zero values take the defaults.
type DialOptions struct {
	// Prefix of the subjects; default DefaultPrefix.
	Prefix string
	// Timeout bounds one attempt of one request (the ctx bounds them all);
	// default 30s.
	Timeout time.Duration
	// Attempts per request, the first included: lost messages, timeouts and
	// unavailable replicas are retried, safely, as start and step are
	// idempotent. Default 3.
	Attempts int
	// MaxMessageBytes bounds one assembled reply; default 256 MiB.
	MaxMessageBytes int
	// MaxPartBytes bounds one NATS message of a request; default the
	// connection's max_payload less 4 KiB of headroom for headers.
	MaxPartBytes int
}

func (o *DialOptions) defaults(nc *nats.Conn) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 256 << 20
	}
	if o.MaxPartBytes <= 0 {
		o.MaxPartBytes = max(int(nc.MaxPayload())-partHeadroom, 1024)
	}
}

// Model is a world model served over NATS. It implements worldmodel.Model,
// worldmodel.Describer and worldmodel.FLOPsCounter (0 when the server does
// not report FLOPs), and io.Closer (closing the connection if Open made it).
type Model struct {
	nc      *nats.Conn
	ownConn bool
	name    string
	opts    DialOptions
	info    infoReply
}

// Dial connects to the world model served under name, checking that a
// replica answers and speaks this protocol.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Model, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("remote: model name %q: want [A-Za-z0-9_-]+: %w", name, errcode.BadRequest)
	}
	opts.defaults(nc)
	m := &Model{nc: nc, name: name, opts: opts}
	info, err := m.fetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	m.info = info
	return m, nil
}

func (m *Model) infoSubject() string { return m.opts.Prefix + "." + m.name + ".info" }

func (m *Model) fetchInfo(ctx context.Context) (infoReply, error) {
	var info infoReply
	body, err := m.retry(ctx, "info", func(ctx context.Context, _ int64) ([]byte, error) {
		return m.attempt(ctx, m.infoSubject(), []byte("{}"), errcode.UnknownModel)
	}, nil)
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, m.errorf("info", errcode.New(errcode.Internal, fmt.Sprintf("info reply: %v", err)))
	}
	if info.Protocol != Protocol {
		return info, m.errorf("info", errcode.New(errcode.Unavailable, fmt.Sprintf("replica speaks protocol %d, this client %d", info.Protocol, Protocol)))
	}
	if info.StartSubject == "" || info.Spec.FrameLen() <= 0 {
		return info, m.errorf("info", errcode.New(errcode.Internal, "info reply without a start subject or a frame size"))
	}
	return info, nil
}

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec { return m.info.Spec }

// Describe implements worldmodel.Describer: the served model's own
// description plus remote_model (the served name).
func (m *Model) Describe() map[string]string {
	d := maps.Clone(m.info.Describe)
	if d == nil {
		d = map[string]string{}
	}
	if _, ok := d["backend"]; !ok {
		d["backend"] = BackendName
	}
	d["remote_model"] = m.name
	return d
}

// FLOPsPerStep implements worldmodel.FLOPsCounter: the server's figure, 0
// when its model does not count FLOPs.
func (m *Model) FLOPsPerStep() float64 { return m.info.FLOPsPerStep }

// Close closes the NATS connection if the model made it (Open); otherwise
// it does nothing, as the caller owns the connection.
func (m *Model) Close() error {
	if m.ownConn {
		m.nc.Close()
	}
	return nil
}

func (m *Model) errorf(op string, err error) error {
	return fmt.Errorf("remote %s: %s: %w", m.name, op, err)
}

// Start implements worldmodel.Model: it picks a replica through the info
// subject's queue group and starts a session there.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	spec := m.info.Spec
	if err := spec.ValidateContexts(contexts); err != nil {
		return nil, m.errorf("start", err)
	}
	lens := make([]int, len(contexts))
	var flat []worldmodel.Observation
	for i, c := range contexts {
		lens[i] = len(c)
		flat = append(flat, c...)
	}
	req := startRequest{RequestID: uuid.NewString(), ContextLens: lens, Arrays: observationArrays(spec, len(flat))}
	encode := func(deadline int64) ([]byte, error) {
		req.DeadlineMillis = deadline
		buf, err := envelope.Seal(req, observationsBytes(spec, len(flat)))
		if err != nil {
			return nil, err
		}
		return appendObservations(buf, flat), nil
	}
	// Pick a replica: the info subject's queue group answers from one at
	// random, so sessions spread over the replicas.
	info, err := m.fetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	if info.Spec != spec {
		return nil, m.errorf("start", errcode.New(errcode.Conflict, fmt.Sprintf("replica %s serves spec %+v, dialed %+v", info.Replica, info.Spec, spec)))
	}
	startSubject := info.StartSubject
	body, err := m.retry(ctx, "start", func(ctx context.Context, deadline int64) ([]byte, error) {
		b, err := encode(deadline)
		if err != nil {
			return nil, err
		}
		return m.attempt(ctx, startSubject, b, errcode.Unavailable)
	}, func(ctx context.Context, err error) error {
		// A full or vanished replica: ask the queue group for another. A
		// timeout retries the same replica, which deduplicates by request id.
		if errors.Is(err, errcode.Unavailable) || errors.Is(err, errcode.QuotaExceeded) {
			info, ierr := m.fetchInfo(ctx)
			if ierr != nil {
				return ierr
			}
			startSubject = info.StartSubject
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var rep startReply
	if err := json.Unmarshal(body, &rep); err != nil || rep.Session == "" || rep.StepSubject == "" {
		return nil, m.errorf("start", errcode.New(errcode.Internal, fmt.Sprintf("start reply %.200q: %v", body, err)))
	}
	if rep.Batch != len(contexts) {
		return nil, m.errorf("start", errcode.New(errcode.Internal, fmt.Sprintf("session of %d episodes, asked for %d", rep.Batch, len(contexts))))
	}
	return &rollout{m: m, spec: spec, batch: len(contexts), reply: rep}, nil
}

type rollout struct {
	m     *Model
	spec  worldmodel.Spec
	batch int
	reply startReply

	mu     sync.Mutex
	seq    uint64 // of the last step that succeeded
	closed bool
}

// Step implements worldmodel.Rollout. Each call is step seq+1 of the
// session; retries after lost messages resend the same seq and actions, and
// the server answers them from its cache.
func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, r.m.errorf("step", fmt.Errorf("%w: %w", worldmodel.ErrClosed, errcode.SessionExpired))
	}
	chunk, err := r.spec.ValidateActions(actions, r.batch)
	if err != nil {
		return nil, r.m.errorf("step", err)
	}
	req := stepRequest{Session: r.reply.Session, Seq: r.seq + 1,
		Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{r.batch, chunk, r.spec.ActionDim}}}}
	body, err := r.m.retry(ctx, "step", func(ctx context.Context, deadline int64) ([]byte, error) {
		req.DeadlineMillis = deadline
		buf, err := envelope.Seal(req, 4*r.batch*chunk*r.spec.ActionDim)
		if err != nil {
			return nil, err
		}
		return r.m.attempt(ctx, r.reply.StepSubject, appendActions(buf, actions), errcode.SessionExpired)
	}, nil)
	if err != nil {
		return nil, err
	}
	var rep stepReply
	blobs, err := envelope.Open(body, &rep, func() []arrayHeader { return rep.Arrays })
	if err == nil {
		err = expect(rep.Arrays, observationArrays(r.spec, r.batch, chunk)...)
	}
	if err == nil && (rep.Session != req.Session || rep.Seq != req.Seq) {
		err = fmt.Errorf("reply for session %s seq %d, sent %s seq %d", rep.Session, rep.Seq, req.Session, req.Seq)
	}
	if err != nil {
		return nil, r.m.errorf("step", errcode.New(errcode.Internal, "bad step reply: "+err.Error()))
	}
	r.seq++
	flat := readObservations(r.spec, r.batch*chunk, blobs[0], blobs[1])
	out := make([][]worldmodel.Observation, r.batch)
	for i := range out {
		out[i] = flat[i*chunk : (i+1)*chunk : (i+1)*chunk]
	}
	return out, nil
}

// Close implements worldmodel.Rollout: it tells the replica to drop the
// session. A replica that is gone has dropped it already.
func (r *rollout) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), r.m.opts.Timeout*time.Duration(r.m.opts.Attempts))
	defer cancel()
	body, _ := json.Marshal(closeRequest{Session: r.reply.Session})
	_, err := r.m.retry(ctx, "close", func(ctx context.Context, _ int64) ([]byte, error) {
		return r.m.attempt(ctx, r.reply.CloseSubject, body, errcode.SessionExpired)
	}, nil)
	if errors.Is(err, errcode.SessionExpired) {
		return nil
	}
	return err
}

// retry runs attempt up to Attempts times while ctx lasts. Each attempt is
// bounded by Timeout and told the time it has (deadline, in ms). Retryable
// codes (a lost message is unavailable; a timed-out attempt is timeout) are
// retried after a short backoff, calling before (if set) first.
func (m *Model) retry(ctx context.Context, op string, attempt func(context.Context, int64) ([]byte, error), before func(context.Context, error) error) ([]byte, error) {
	var err error
	for try := range m.opts.Attempts {
		if cerr := ctx.Err(); cerr != nil {
			return nil, m.errorf(op, cerr)
		}
		if try > 0 {
			if !errors.Is(err, errcode.Timeout) {
				if werr := wait(ctx, time.Duration(25<<try)*time.Millisecond); werr != nil {
					return nil, m.errorf(op, fmt.Errorf("%w (after %w)", werr, err))
				}
			}
			if before != nil {
				if berr := before(ctx, err); berr != nil {
					return nil, berr
				}
			}
		}
		actx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
		deadline, _ := actx.Deadline()
		var body []byte
		body, err = attempt(actx, time.Until(deadline).Milliseconds())
		cancel()
		if err == nil {
			return body, nil
		}
		if ctx.Err() != nil {
			return nil, m.errorf(op, ctx.Err())
		}
		if !errcode.CodeOf(err).Retryable() {
			break
		}
	}
	return nil, m.errorf(op, err)
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

// attempt sends one request (see envelope.Request).
func (m *Model) attempt(ctx context.Context, subject string, body []byte, noResponders errcode.Code) ([]byte, error) {
	lim := envelope.Limits{MaxPartBytes: m.opts.MaxPartBytes, MaxMessageBytes: m.opts.MaxMessageBytes, Timeout: m.opts.Timeout}
	return envelope.Request(ctx, m.nc, subject, body, lim, noResponders)
}
