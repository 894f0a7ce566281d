package websocket

import (
	"context"
	"hash/fnv"
	"math"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"dreamrank/foundation/peer/peertest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

// smallSpec keeps tests fast; a context of 3 exercises the padding.
func smallSpec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: 4, FrameW: 5, Channels: 3, ProprioDim: 3, ActionDim: 2, ContextLen: 3, ControlHz: 10}
}

// mix is a deterministic test model whose predictions depend on every
// context observation and every action, with awkward float32 values, so
// identity through the protocol means something: an episode's state
// starts as its newest frame XOR a hash of its whole context, and then
// drifts with the actions (modeltest.Drift).
type mix struct {
	spec worldmodel.Spec
	// stepHook, when set, runs first in every Step (errors, blocking).
	stepHook func(ctx context.Context) error
}

func (m *mix) Spec() worldmodel.Spec { return m.spec }

func (m *mix) Describe() map[string]string {
	return map[string]string{"backend": "mix", "version": "3"}
}

func (m *mix) FLOPsPerStep() float64 { return 42 }

func (m *mix) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := m.spec.ValidateContexts(contexts); err != nil {
		return nil, err
	}
	last := make([]worldmodel.Observation, len(contexts))
	for i, c := range contexts {
		h := fnv.New32a()
		for _, o := range c {
			h.Write(o.Frame)
			for _, p := range o.Proprio {
				h.Write([]byte{byte(math.Float32bits(p))})
			}
		}
		o := c[len(c)-1]
		f := slices.Clone(o.Frame)
		for p := range f {
			f[p] ^= uint8(h.Sum32())
		}
		last[i] = worldmodel.Observation{Frame: f, Proprio: slices.Clone(o.Proprio)}
	}
	return &mixRollout{m: m, last: last}, nil
}

type mixRollout struct {
	m      *mix
	mu     sync.Mutex
	last   []worldmodel.Observation
	closed bool
}

func (r *mixRollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if _, err := r.m.spec.ValidateActions(actions, len(r.last)); err != nil {
		return nil, err
	}
	if h := r.m.stepHook; h != nil {
		if err := h(ctx); err != nil {
			return nil, err
		}
	}
	out := make([][]worldmodel.Observation, len(r.last))
	for i := range r.last {
		out[i] = modeltest.Drift(&r.last[i], actions[i])
	}
	return out, nil
}

func (r *mixRollout) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// serve serves m on a test HTTP server and returns its ws:// address.
func serve(t testing.TB, m worldmodel.Model, opts ServeOptions) string {
	t.Helper()
	opts.Logf = peertest.Logf(t)
	srv := httptest.NewServer(Serve(m, opts))
	t.Cleanup(srv.Close)
	return "ws" + srv.URL[len("http"):]
}

// dial opens the backend on url with a short timeout.
func dial(t testing.TB, url string, opts Options) *Model {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	m, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
