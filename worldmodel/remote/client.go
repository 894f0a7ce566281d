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
	"dreamrank/foundation/service"
	"dreamrank/worldmodel"
)

// DialOptions tune a client; zero values take the defaults (Prefix
// DefaultPrefix, Timeout 30 s).
type DialOptions = service.DialOptions

// dialer holds the protocol's client defaults and backend options.
var dialer = service.Dialer{
	Label: "remote", Prefix: DefaultPrefix, Timeout: 30 * time.Second,
	NameOption: OptModel, Client: "worldmodel", Bad: errcode.BadRequest,
}

// Model is a world model served over NATS. It implements worldmodel.Model,
// worldmodel.Describer and worldmodel.FLOPsCounter (0 when the server does
// not report FLOPs), and io.Closer (closing the connection if Open made it).
type Model struct {
	call *service.Caller
	info infoReply
}

// Dial connects to the world model served under name, checking that a
// replica answers and speaks this protocol.
func Dial(ctx context.Context, nc *nats.Conn, name string, opts DialOptions) (*Model, error) {
	call, err := dialer.Caller(nc, name, opts)
	if err != nil {
		return nil, err
	}
	return newModel(ctx, call)
}

// Open is the "remote" backend's opener: it connects to NATS itself and
// dials the model. The returned *Model owns the connection; Close closes it.
var Open = service.Opener[worldmodel.Options](dialer, openModel)

// openModel is newModel for the registry: its client as a worldmodel.Model.
func openModel(ctx context.Context, call *service.Caller) (worldmodel.Model, error) {
	return newModel(ctx, call)
}

func newModel(ctx context.Context, call *service.Caller) (*Model, error) {
	m := &Model{call: call}
	info, err := m.fetchInfo(ctx)
	if err != nil {
		return nil, err
	}
	m.info = info
	return m, nil
}

func (m *Model) fetchInfo(ctx context.Context) (infoReply, error) {
	var info infoReply
	if err := m.call.Info(ctx, errcode.UnknownModel, Protocol, &info); err != nil {
		return info, err
	}
	if info.StartSubject == "" || info.Spec.FrameLen() <= 0 {
		return info, m.call.Errorf("info", errcode.New(errcode.Internal, "info reply without a start subject or a frame size"))
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
	d["remote_model"] = m.call.Name()
	return d
}

// FLOPsPerStep implements worldmodel.FLOPsCounter: the server's figure, 0
// when its model does not count FLOPs.
func (m *Model) FLOPsPerStep() float64 { return m.info.FLOPsPerStep }

// Close closes the NATS connection if the model made it (Open); otherwise
// it does nothing, as the caller owns the connection.
func (m *Model) Close() error { return m.call.Close() }

// Start implements worldmodel.Model: it picks a replica through the info
// subject's queue group and starts a session there.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	spec := m.info.Spec
	if err := spec.ValidateContexts(contexts); err != nil {
		return nil, m.call.Errorf("start", err)
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
		return nil, m.call.Errorf("start", errcode.New(errcode.Conflict, fmt.Sprintf("replica %s serves spec %+v, dialed %+v", info.Replica, info.Spec, spec)))
	}
	startSubject := info.StartSubject
	body, err := m.call.Retry(ctx, "start", func(ctx context.Context, deadline int64) ([]byte, error) {
		b, err := encode(deadline)
		if err != nil {
			return nil, err
		}
		return m.call.Request(ctx, startSubject, b, errcode.Unavailable)
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
		return nil, m.call.Errorf("start", errcode.New(errcode.Internal, fmt.Sprintf("start reply %.200q: %v", body, err)))
	}
	if rep.Batch != len(contexts) {
		return nil, m.call.Errorf("start", errcode.New(errcode.Internal, fmt.Sprintf("session of %d episodes, asked for %d", rep.Batch, len(contexts))))
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
		return nil, r.m.call.Errorf("step", fmt.Errorf("%w: %w", worldmodel.ErrClosed, errcode.SessionExpired))
	}
	chunk, err := r.spec.ValidateActions(actions, r.batch)
	if err != nil {
		return nil, r.m.call.Errorf("step", err)
	}
	req := stepRequest{Session: r.reply.Session, Seq: r.seq + 1,
		Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{r.batch, chunk, r.spec.ActionDim}}}}
	body, err := r.m.call.Retry(ctx, "step", func(ctx context.Context, deadline int64) ([]byte, error) {
		req.DeadlineMillis = deadline
		buf, err := envelope.Seal(req, 4*r.batch*chunk*r.spec.ActionDim)
		if err != nil {
			return nil, err
		}
		return r.m.call.Request(ctx, r.reply.StepSubject, appendActions(buf, actions), errcode.SessionExpired)
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
		return nil, r.m.call.Errorf("step", errcode.New(errcode.Internal, "bad step reply: "+err.Error()))
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
	o := r.m.call.Options()
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout*time.Duration(o.Attempts))
	defer cancel()
	body, _ := json.Marshal(closeRequest{Session: r.reply.Session})
	_, err := r.m.call.Retry(ctx, "close", func(ctx context.Context, _ int64) ([]byte, error) {
		return r.m.call.Request(ctx, r.reply.CloseSubject, body, errcode.SessionExpired)
	}, nil)
	if errors.Is(err, errcode.SessionExpired) {
		return nil
	}
	return err
}
