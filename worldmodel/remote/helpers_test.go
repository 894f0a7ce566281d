package remote

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"dreamrank/foundation/service/servicetest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/modeltest"
)

// serve serves m under name on its own connection (as a separate replica
// process would) and stops it at cleanup.
func serve(tb testing.TB, url, name string, m worldmodel.Model, opts ServeOptions) *Server {
	return servicetest.Serve(tb, url, Serve, name, m, opts)
}

func dial(tb testing.TB, url, name string, opts DialOptions) *Model {
	return servicetest.Dial(tb, url, Dial, name, opts)
}

// drift is a deterministic test model whose predictions depend on the
// actions and carry awkward float32 values, so byte-identity through the
// protocol means something: it starts from the newest context observation
// and drifts with the actions (modeltest.Drift).
type drift struct {
	spec   worldmodel.Spec
	starts atomic.Int64
	steps  atomic.Int64
	// hooks, for error and timing tests
	stepHook func(ctx context.Context, actions [][][]float32) error
}

func newDrift(spec worldmodel.Spec) *drift { return &drift{spec: spec} }

func (d *drift) Spec() worldmodel.Spec { return d.spec }

func (d *drift) Describe() map[string]string {
	return map[string]string{"backend": "drift", "version": "7"}
}

func (d *drift) FLOPsPerStep() float64 { return 1234 }

func (d *drift) Start(ctx context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := d.spec.ValidateContexts(contexts); err != nil {
		return nil, err
	}
	d.starts.Add(1)
	last := make([]worldmodel.Observation, len(contexts))
	for i, c := range contexts {
		o := c[len(c)-1]
		last[i] = worldmodel.Observation{Frame: slices.Clone(o.Frame), Proprio: slices.Clone(o.Proprio)}
	}
	return &driftRollout{d: d, last: last}, nil
}

type driftRollout struct {
	d      *drift
	mu     sync.Mutex
	last   []worldmodel.Observation
	closed bool
}

func (r *driftRollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, worldmodel.ErrClosed
	}
	if _, err := r.d.spec.ValidateActions(actions, len(r.last)); err != nil {
		return nil, err
	}
	if h := r.d.stepHook; h != nil {
		if err := h(ctx, actions); err != nil {
			return nil, err
		}
	}
	r.d.steps.Add(1)
	out := make([][]worldmodel.Observation, len(r.last))
	for i := range r.last {
		out[i] = modeltest.Drift(&r.last[i], actions[i])
	}
	return out, nil
}

func (r *driftRollout) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

// smallSpec keeps tests fast; the large-batch test uses the PushT spec.
func smallSpec() worldmodel.Spec {
	return worldmodel.Spec{FrameH: 8, FrameW: 6, Channels: 3, ProprioDim: 3, ActionDim: 2, ContextLen: 2, ControlHz: 10}
}

// sameSteps starts contexts on both models and steps them with the same
// actions steps times: every prediction must be identical. check, if set,
// sees each step's predictions too.
func sameSteps(t *testing.T, direct, remote worldmodel.Model, contexts [][]worldmodel.Observation, steps int, actions func(step int) [][][]float32, check func(got, want [][]worldmodel.Observation)) {
	t.Helper()
	ctx := context.Background()
	rd, err := direct.Start(ctx, contexts)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rr, err := remote.Start(ctx, contexts)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Close()
	for step := range steps {
		a := actions(step)
		want, err := rd.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rr.Step(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if err := modeltest.Diff(got, want); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if check != nil {
			check(got, want)
		}
	}
}

var errBoom = errors.New("boom")
