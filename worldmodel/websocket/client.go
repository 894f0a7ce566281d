package websocket

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
	"dreamrank/worldmodel"
)

// BackendName is the registry name of world models served by websocket
// peers.
const BackendName = "websocket"

// Backend options.
const (
	OptURL     = peer.OptURL     // the peer, ws://host:port (required)
	OptAPIKey  = peer.OptAPIKey  // sent as "Authorization: Api-Key <key>"
	OptTimeout = peer.OptTimeout // per request, a Go duration; default DefaultTimeout
)

// DefaultTimeout bounds one request (a reset or a step of the whole batch),
// so a peer that hangs fails the rollout instead of the worker.
const DefaultTimeout = peer.DefaultTimeout

func init() { worldmodel.Register(BackendName, Open) }

// Options configure Dial (API key, timeout per request, read limit); zero
// values take the defaults.
type Options = peer.Options

// Open is the "websocket" backend's opener.
func Open(ctx context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
	url, o, err := peer.ParseOptions(opts, worldmodel.ErrBadInput)
	if err != nil {
		return nil, err
	}
	return Dial(ctx, url, o)
}

// Model is a world model served by a websocket peer. It implements
// worldmodel.Model, Describer and FLOPsCounter (0 when the peer does not
// say), and is safe for concurrent use: each rollout has its own
// connection.
type Model struct {
	url  string
	opts Options
	info info
}

// Dial connects to the peer once to read its metadata (spec, description).
func Dial(ctx context.Context, url string, opts Options) (*Model, error) {
	m := &Model{url: peer.URL(url), opts: opts.WithDefaults()}
	c, in, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.Close()
	m.info = in
	return m, nil
}

// connect dials the peer and reads its metadata.
func (m *Model) connect(ctx context.Context) (*peer.Conn, info, error) {
	c, in, err := peer.Connect(ctx, m.url, m.opts, parseMetadata)
	if err != nil {
		return nil, in, m.errorf("connect", err)
	}
	return c, in, nil
}

// errorf says which peer and operation failed. A connection that is gone
// is the end of the session: worldmodel.ErrClosed (session_expired on the
// bus), beside the peer's own error.
func (m *Model) errorf(op string, err error) error {
	if errors.Is(err, peer.ErrClosed) {
		return fmt.Errorf("websocket world model %s: %s: %w: %w", m.url, op, worldmodel.ErrClosed, err)
	}
	return fmt.Errorf("websocket world model %s: %s: %w", m.url, op, err)
}

// Spec implements worldmodel.Model.
func (m *Model) Spec() worldmodel.Spec { return m.info.spec }

// Describe implements worldmodel.Describer: the peer's description plus
// its address.
func (m *Model) Describe() map[string]string {
	d := maps.Clone(m.info.describe)
	if d == nil {
		d = map[string]string{}
	}
	if _, ok := d["backend"]; !ok {
		d["backend"] = BackendName
	}
	d["websocket_url"] = m.url
	return d
}

// FLOPsPerStep implements worldmodel.FLOPsCounter.
func (m *Model) FLOPsPerStep() float64 { return m.info.flops }

// Start implements worldmodel.Model: a connection of its own, reset with
// every episode's context in one message.
func (m *Model) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	spec := m.info.spec
	if err := spec.ValidateContexts(contexts); err != nil {
		return nil, m.errorf("start", err)
	}
	c, in, err := m.connect(ctx)
	if err != nil {
		return nil, err
	}
	if in.spec != spec {
		c.Close()
		return nil, m.errorf("start", errcode.New(errcode.Conflict, fmt.Sprintf("the peer now serves spec %+v, dialed %+v", in.spec, spec)))
	}
	cctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	resp, err := c.Call(cctx, encodeReset(spec, contexts))
	if err == nil {
		if b, ok := resp["batch"]; ok {
			if n, _ := ndarray.Int(b); n != int64(len(contexts)) {
				err = errcode.New(errcode.Internal, fmt.Sprintf("the peer reset %v episodes, sent %d", b, len(contexts)))
			}
		}
	}
	if err != nil {
		c.Close()
		return nil, m.errorf("reset", err)
	}
	return &rollout{m: m, conn: c, batch: len(contexts)}, nil
}

type rollout struct {
	m     *Model
	conn  *peer.Conn
	batch int

	mu     sync.Mutex // one step at a time
	steps  int
	closed atomic.Bool
}

// Step implements worldmodel.Rollout: one request for the whole batch.
func (r *rollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, r.m.errorf("step", worldmodel.ErrClosed)
	}
	spec := r.m.info.spec
	chunk, err := spec.ValidateActions(actions, r.batch)
	if err != nil {
		return nil, r.m.errorf("step", err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.m.opts.Timeout)
	defer cancel()
	resp, err := r.conn.Call(ctx, encodeStep(spec, actions, chunk))
	if err != nil {
		return nil, r.m.errorf("step "+strconv.Itoa(r.steps+1), err)
	}
	pred, err := observations(spec, resp, r.batch, chunk)
	if err != nil {
		r.conn.Close() // the peer is off the protocol; do not trust what follows
		return nil, r.m.errorf("step "+strconv.Itoa(r.steps+1), errcode.New(errcode.Internal, "bad reply: "+err.Error()))
	}
	r.steps++
	return pred, nil
}

// Close implements worldmodel.Rollout: it closes the connection, and the
// peer drops the session with it. A step in flight fails with ErrClosed.
func (r *rollout) Close() error {
	r.closed.Store(true)
	return r.conn.Close()
}
