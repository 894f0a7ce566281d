package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/envelope"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/foundation/service/servicetest"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
	"dreamrank/worldmodel/modeltest"
)

func TestContract(t *testing.T) {
	url := servicetest.NATS(t)
	tests := []struct {
		name  string
		model worldmodel.Model
	}{
		{"copylast", copylast.New(copylast.PushTSpec())},
		{"drift", newDrift(smallSpec())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve(t, url, tt.name, tt.model, ServeOptions{})
			modeltest.Contract(t, dial(t, url, tt.name, DialOptions{}))
		})
	}
}

// TestByteIdentical: predictions through the protocol are the model's own,
// bit for bit, including awkward float32 values, over several steps.
func TestByteIdentical(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	direct := newDrift(spec)
	serve(t, url, "drift", newDrift(spec), ServeOptions{})
	remote := dial(t, url, "drift", DialOptions{})
	if remote.Spec() != spec {
		t.Fatalf("spec %+v, want %+v", remote.Spec(), spec)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	contexts := [][]worldmodel.Observation{
		modeltest.Observations(spec, 2, rng), modeltest.Observations(spec, 1, rng),
		modeltest.Observations(spec, 2, rng), modeltest.Observations(spec, 1, rng),
	}
	odd := []float32{float32(math.Copysign(0, -1)), float32(math.Inf(1)), math.SmallestNonzeroFloat32, math.MaxFloat32, float32(math.NaN())}
	for i, v := range odd[:spec.ProprioDim] {
		contexts[i%len(contexts)][0].Proprio[i] = v
	}
	sameSteps(t, direct, remote, contexts, 4, func(step int) [][][]float32 {
		actions := modeltest.Actions(spec, len(contexts), 1+step, rng)
		actions[0][0][0] = float32(math.Copysign(0, -1))
		return actions
	}, func(got, want [][]worldmodel.Observation) {
		// Callers may modify what they get without disturbing neighbours.
		got[0][0].Frame = append(got[0][0].Frame, 1)
		if err := modeltest.Diff(got[1:], want[1:]); err != nil {
			t.Fatalf("append to one frame changed another: %v", err)
		}
	})
	d := remote.Describe()
	if d["backend"] != "drift" || d["version"] != "7" || d["remote_model"] != "drift" || remote.FLOPsPerStep() != 1234 {
		t.Fatalf("Describe %v, FLOPs %v", d, remote.FLOPsPerStep())
	}
}

// TestErrorCodes: the model's errors come back as the same sentinels.
func TestErrorCodes(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	m := newDrift(spec)
	m.stepHook = func(ctx context.Context, actions [][][]float32) error {
		switch a := actions[0][0][0]; {
		case a == -1:
			return fmt.Errorf("%w: action -1 is out of range", worldmodel.ErrBadInput)
		case a == -2:
			return worldmodel.ErrClosed
		case a == -3:
			return errBoom
		case a == -4:
			panic("model bug")
		case a == -5:
			<-ctx.Done() // the server's deadline is the client's
			return ctx.Err()
		}
		return nil
	}
	serve(t, url, "picky", m, ServeOptions{})
	remote := dial(t, url, "picky", DialOptions{Timeout: 300 * time.Millisecond, Attempts: 1})
	rng := rand.New(rand.NewPCG(5, 6))
	contexts := [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)}

	tests := []struct {
		name   string
		action float32
		is     []error
		code   errcode.Code
	}{
		{"bad input", -1, []error{worldmodel.ErrBadInput}, errcode.BadRequest},
		{"closed", -2, []error{worldmodel.ErrClosed}, errcode.SessionExpired},
		{"unmapped", -3, nil, errcode.Internal},
		{"panic", -4, nil, errcode.Internal},
		{"deadline", -5, []error{context.DeadlineExceeded}, errcode.Timeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := remote.Start(context.Background(), contexts)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			actions := modeltest.Actions(spec, 1, 2, rng)
			actions[0][0][0] = tt.action
			_, err = r.Step(context.Background(), actions)
			for _, s := range tt.is {
				if !errors.Is(err, s) {
					t.Errorf("err = %v, want errors.Is %v", err, s)
				}
			}
			if got := errcode.CodeOf(err); got != tt.code {
				t.Errorf("code %q (%v), want %q", got, err, tt.code)
			}
			// The session survives a failed step: the next one works.
			if _, err := r.Step(context.Background(), modeltest.Actions(spec, 1, 2, rng)); tt.name != "closed" && err != nil {
				t.Errorf("step after a failed step: %v", err)
			}
		})
	}
}

// rawCall sends one single-part request and returns the reply's body and
// error code (empty when it is not an error).
func rawCall(t *testing.T, nc *nats.Conn, subject string, body []byte) ([]byte, errcode.Code) {
	t.Helper()
	msg, err := nc.Request(subject, body, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Data, errcode.Code(msg.Header.Get(envelope.HeaderErrorCode))
}

func rawStart(t *testing.T, nc *nats.Conn, subject, requestID string, spec worldmodel.Spec, ctxs []worldmodel.Observation) (startReply, errcode.Code) {
	t.Helper()
	body, err := envelope.Seal(startRequest{RequestID: requestID, ContextLens: []int{len(ctxs)}, Arrays: observationArrays(spec, len(ctxs))}, 0)
	if err != nil {
		t.Fatal(err)
	}
	body = appendObservations(body, ctxs)
	reply, code := rawCall(t, nc, subject, body)
	var rep startReply
	if code == "" {
		if err := json.Unmarshal(reply, &rep); err != nil {
			t.Fatal(err)
		}
	}
	return rep, code
}

func rawStep(t *testing.T, nc *nats.Conn, subject, session string, seq uint64, actions [][][]float32) ([]byte, errcode.Code) {
	t.Helper()
	body, err := envelope.Seal(stepRequest{Session: session, Seq: seq, Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{len(actions), len(actions[0]), len(actions[0][0])}}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rawCall(t, nc, subject, appendActions(body, actions))
}

// TestProtocolErrors speaks the wire protocol directly, as another
// language's client would, and checks each error reply's code.
func TestProtocolErrors(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	srv := serve(t, url, "drift", newDrift(spec), ServeOptions{})
	nc := servicetest.Connect(t, url)
	startSubj := DefaultPrefix + ".drift.r." + srv.Replica() + ".start"
	rng := rand.New(rand.NewPCG(7, 8))
	rep, code := rawStart(t, nc, startSubj, "req-1", spec, modeltest.Observations(spec, 1, rng))
	if code != "" {
		t.Fatalf("start: %s", code)
	}
	goodActions := modeltest.Actions(spec, 1, 2, rng)

	shortFrame := modeltest.Observations(spec, 1, rng)
	shortFrame[0].Frame = shortFrame[0].Frame[:5]
	tests := []struct {
		name    string
		subject string
		body    func() []byte
		want    errcode.Code
	}{
		{"not an envelope", startSubj, func() []byte { return []byte{0, 0} }, errcode.BadRequest},
		{"JSON length past the end", startSubj, func() []byte { return []byte{0, 0, 1, 0, '{', '}'} }, errcode.BadRequest},
		{"frames shape off spec", startSubj, func() []byte {
			s := spec
			s.FrameW++
			b, _ := envelope.Seal(startRequest{ContextLens: []int{1}, Arrays: observationArrays(s, 1)}, 0)
			return append(b, make([]byte, observationsBytes(s, 1))...)
		}, errcode.BadRequest},
		{"blob shorter than arrays", startSubj, func() []byte {
			b, _ := envelope.Seal(startRequest{ContextLens: []int{1}, Arrays: observationArrays(spec, 1)}, 0)
			return append(b, 1, 2, 3)
		}, errcode.BadRequest},
		{"too many context observations", startSubj, func() []byte {
			obs := modeltest.Observations(spec, spec.ContextLen+1, rng)
			b, _ := envelope.Seal(startRequest{ContextLens: []int{len(obs)}, Arrays: observationArrays(spec, len(obs))}, 0)
			return appendObservations(b, obs)
		}, errcode.BadRequest},
		{"unknown session", DefaultPrefix + ".drift.r." + srv.Replica() + ".step", func() []byte {
			b, _ := envelope.Seal(stepRequest{Session: "nope", Seq: 1, Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{1, 2, 2}}}}, 0)
			return appendActions(b, goodActions)
		}, errcode.SessionExpired},
		{"seq skips ahead", rep.StepSubject, func() []byte {
			b, _ := envelope.Seal(stepRequest{Session: rep.Session, Seq: 2, Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{1, 2, 2}}}}, 0)
			return appendActions(b, goodActions)
		}, errcode.Conflict},
		{"actions of the wrong dim", rep.StepSubject, func() []byte {
			b, _ := envelope.Seal(stepRequest{Session: rep.Session, Seq: 1, Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{1, 1, 4}}}}, 0)
			return append(b, make([]byte, 16)...)
		}, errcode.BadRequest},
		{"unknown dtype", rep.StepSubject, func() []byte {
			b, _ := envelope.Seal(stepRequest{Session: rep.Session, Seq: 1, Arrays: []arrayHeader{{Name: "actions", DType: "float64", Shape: []int{1, 2, 2}}}}, 0)
			return append(b, make([]byte, 32)...)
		}, errcode.BadRequest},
		{"close is not JSON", rep.CloseSubject, func() []byte { return []byte("x") }, errcode.BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, code := rawCall(t, nc, tt.subject, tt.body())
			if code != tt.want {
				t.Fatalf("code %q (%s), want %q", code, body, tt.want)
			}
			var e errcode.Error
			if err := json.Unmarshal(body, &e); err != nil || e.Code != tt.want || e.Message == "" {
				t.Fatalf("error body %s: %v", body, err)
			}
		})
	}

	t.Run("part without its predecessor", func(t *testing.T) {
		msg, err := nc.RequestMsg(&nats.Msg{Subject: startSubj, Data: []byte("x"), Header: nats.Header{envelope.HeaderPart: []string{"2/3"}}}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := msg.Header.Get(envelope.HeaderErrorCode); code != string(errcode.Unavailable) {
			t.Fatalf("code %q, want unavailable (a retryable lost part)", code)
		}
	})
	t.Run("bad part header", func(t *testing.T) {
		msg, err := nc.RequestMsg(&nats.Msg{Subject: startSubj, Data: []byte("x"), Header: nats.Header{envelope.HeaderPart: []string{"4/3"}}}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code := msg.Header.Get(envelope.HeaderErrorCode); code != string(errcode.BadRequest) {
			t.Fatalf("code %q, want bad_request", code)
		}
	})
	t.Run("info", func(t *testing.T) {
		body, code := rawCall(t, nc, DefaultPrefix+".drift.info", nil)
		var info infoReply
		if err := json.Unmarshal(body, &info); err != nil || code != "" {
			t.Fatalf("%s %s %v", body, code, err)
		}
		if info.Protocol != Protocol || info.Spec != spec || info.Replica != srv.Replica() || info.StartSubject != startSubj {
			t.Fatalf("info %+v", info)
		}
	})
}

// TestIdempotent: a retried start with the same request id is the same
// session; a retried step with the same seq and actions is the cached
// result, and the model works once for each.
func TestIdempotent(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	m := newDrift(spec)
	srv := serve(t, url, "drift", m, ServeOptions{})
	nc := servicetest.Connect(t, url)
	startSubj := DefaultPrefix + ".drift.r." + srv.Replica() + ".start"
	rng := rand.New(rand.NewPCG(9, 10))
	obs := modeltest.Observations(spec, 2, rng)

	a, code := rawStart(t, nc, startSubj, "same-id", spec, obs)
	b, code2 := rawStart(t, nc, startSubj, "same-id", spec, obs)
	if code != "" || code2 != "" || a.Session == "" || a != b || m.starts.Load() != 1 {
		t.Fatalf("starts %+v %+v (%s %s); model started %d times", a, b, code, code2, m.starts.Load())
	}
	actions := modeltest.Actions(spec, 1, 3, rng)
	first, code := rawStep(t, nc, a.StepSubject, a.Session, 1, actions)
	again, code2 := rawStep(t, nc, a.StepSubject, a.Session, 1, actions)
	if code != "" || code2 != "" || !slices.Equal(first, again) || m.steps.Load() != 1 {
		t.Fatalf("retried step: codes %q %q, equal %v, model stepped %d times", code, code2, slices.Equal(first, again), m.steps.Load())
	}
	other := modeltest.Actions(spec, 1, 3, rng)
	if _, code := rawStep(t, nc, a.StepSubject, a.Session, 1, other); code != errcode.Conflict {
		t.Fatalf("seq 1 again with other actions: %q, want conflict", code)
	}
	if _, code := rawStep(t, nc, a.StepSubject, a.Session, 2, other); code != "" || m.steps.Load() != 2 {
		t.Fatalf("seq 2: %q", code)
	}
	if _, code := rawStep(t, nc, a.StepSubject, a.Session, 1, actions); code != errcode.Conflict {
		t.Fatalf("seq 1 after seq 2: %q, want conflict", code)
	}
	// Close is idempotent, and a retried start after close finds the
	// closed session rather than opening another.
	for range 2 {
		if _, code := rawCall(t, nc, a.CloseSubject, []byte(`{"session":"`+a.Session+`"}`)); code != "" {
			t.Fatalf("close: %q", code)
		}
	}
	if c, code := rawStart(t, nc, startSubj, "same-id", spec, obs); code != "" || c.Session != a.Session || srv.Sessions() != 0 {
		t.Fatalf("start after close: %+v %q, %d sessions", c, code, srv.Sessions())
	}
	if _, code := rawStep(t, nc, a.StepSubject, a.Session, 3, other); code != errcode.SessionExpired {
		t.Fatalf("step after close: %q", code)
	}
}

// TestRetrySlowStep: the client's attempt times out while the model is
// still working; it retries the same seq, and the model applies the step
// once (the first attempt's work either finishes and is cached, or is
// cancelled by the deadline that travelled with it and redone).
func TestRetrySlowStep(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	m := newDrift(spec)
	release := make(chan struct{})
	m.stepHook = func(ctx context.Context, _ [][][]float32) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	srv := serve(t, url, "slow", m, ServeOptions{Concurrency: 4})
	// Watch the step subject as a bystander, to see the retry arrive.
	var seen atomic.Int64
	watch := servicetest.Connect(t, url)
	if _, err := watch.Subscribe(DefaultPrefix+".slow.r."+srv.Replica()+".step", func(*nats.Msg) { seen.Add(1) }); err != nil {
		t.Fatal(err)
	}
	watch.Flush()
	remote := dial(t, url, "slow", DialOptions{Timeout: 200 * time.Millisecond, Attempts: 20})
	rng := rand.New(rand.NewPCG(11, 12))
	contexts := [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)}
	r, err := remote.Start(context.Background(), contexts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		for seen.Load() < 2 {
			<-time.After(time.Millisecond)
		}
		close(release)
	}()
	actions := modeltest.Actions(spec, 1, 2, rng)
	got, err := r.Step(context.Background(), actions)
	if err != nil {
		t.Fatal(err)
	}
	if m.steps.Load() != 1 {
		t.Fatalf("model stepped %d times for one Step retried %d times", m.steps.Load(), seen.Load())
	}
	want := newDrift(spec)
	rd, _ := want.Start(context.Background(), contexts)
	w, _ := rd.Step(context.Background(), actions)
	if err := modeltest.Diff(got, w); err != nil {
		t.Fatal(err)
	}
}

func TestSessionExpiry(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	srv := serve(t, url, "drift", newDrift(spec), ServeOptions{IdleTTL: 100 * time.Millisecond})
	remote := dial(t, url, "drift", DialOptions{})
	rng := rand.New(rand.NewPCG(13, 14))
	r, err := remote.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Sessions() != 1 {
		t.Fatalf("%d sessions", srv.Sessions())
	}
	servicetest.Eventually(t, 10*time.Second, "the idle session expires", func() bool { return srv.Sessions() == 0 })
	_, err = r.Step(context.Background(), modeltest.Actions(spec, 1, 1, rng))
	if !errors.Is(err, worldmodel.ErrClosed) || !errors.Is(err, errcode.SessionExpired) {
		t.Fatalf("step after expiry: %v, want ErrClosed / session_expired", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("close of an expired session: %v", err)
	}
}

// TestCancel: a cancelled ctx ends Step at once; a ctx deadline travels
// with the request and ends the model's work on the server too.
func TestCancel(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	m := newDrift(spec)
	entered := make(chan struct{}, 2)
	ended := make(chan error, 2)
	m.stepHook = func(ctx context.Context, _ [][][]float32) error {
		entered <- struct{}{}
		<-ctx.Done()
		ended <- ctx.Err()
		return ctx.Err()
	}
	serve(t, url, "stuck", m, ServeOptions{Concurrency: 2})
	remote := dial(t, url, "stuck", DialOptions{})
	rng := rand.New(rand.NewPCG(15, 16))
	start := func() worldmodel.Rollout {
		r, err := remote.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	if _, err := start().Step(ctx, modeltest.Actions(spec, 1, 1, rng)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	if _, err := start().Step(dctx, modeltest.Actions(spec, 1, 1, rng)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	select {
	case err := <-ended:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("the server's work ended with %v, want its deadline", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the deadline did not reach the server's model")
	}
}

// TestReplicas: two replicas share one model name; sessions spread over
// both, each stays on its replica, and when one stops its sessions end
// while new ones go to the other.
func TestReplicas(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	a := serve(t, url, "drift", newDrift(spec), ServeOptions{Concurrency: 2})
	b := serve(t, url, "drift", newDrift(spec), ServeOptions{Concurrency: 2})
	remote := dial(t, url, "drift", DialOptions{Timeout: 2 * time.Second})
	rng := rand.New(rand.NewPCG(17, 18))
	ctx := context.Background()
	var rs []worldmodel.Rollout
	for range 24 {
		r, err := remote.Start(ctx, [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if a.Sessions() == 0 || b.Sessions() == 0 || a.Sessions()+b.Sessions() != 24 {
		t.Fatalf("sessions %d + %d, want both used, 24 in all", a.Sessions(), b.Sessions())
	}
	for _, r := range rs {
		if _, err := r.Step(ctx, modeltest.Actions(spec, 1, 2, rng)); err != nil {
			t.Fatal(err)
		}
	}
	onA := 0
	for _, r := range rs {
		if strings.Contains(r.(*rollout).reply.StepSubject, a.Replica()) {
			onA++
		}
	}
	if err := a.Stop(); err != nil {
		t.Fatal(err)
	}
	expired := 0
	for _, r := range rs {
		_, err := r.Step(ctx, modeltest.Actions(spec, 1, 2, rng))
		switch {
		case errors.Is(err, worldmodel.ErrClosed):
			expired++
		case err != nil:
			t.Fatal(err)
		}
	}
	if expired != onA {
		t.Fatalf("%d sessions ended with their replica, want %d", expired, onA)
	}
	for range 4 {
		r, err := remote.Start(ctx, [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)})
		if err != nil {
			t.Fatalf("start with one replica left: %v", err)
		}
		if !strings.Contains(r.(*rollout).reply.StepSubject, b.Replica()) {
			t.Fatal("a session on the stopped replica")
		}
	}
}

// TestSessionLimit: a full replica refuses with quota_exceeded, and the
// client finds room on another.
func TestSessionLimit(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	serve(t, url, "drift", newDrift(spec), ServeOptions{MaxSessions: 1})
	remote := dial(t, url, "drift", DialOptions{Attempts: 2})
	rng := rand.New(rand.NewPCG(19, 20))
	ctxs := [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)}
	if _, err := remote.Start(context.Background(), ctxs); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Start(context.Background(), ctxs); !errors.Is(err, errcode.QuotaExceeded) {
		t.Fatalf("second session on a full replica: %v, want quota_exceeded", err)
	}
	serve(t, url, "drift", newDrift(spec), ServeOptions{MaxSessions: 1})
	remote = dial(t, url, "drift", DialOptions{Attempts: 20})
	if _, err := remote.Start(context.Background(), ctxs); err != nil {
		t.Fatalf("with a second replica: %v", err)
	}
}

// TestLargeBatch: a PushT batch of 16 with 4 context frames each (1.8 MB
// up) and chunks of 8 (3.5 MB down) crosses a server with the default 1 MB
// max_payload in parts, byte-identical; a message over the configured
// limit fails with too_large.
func TestLargeBatch(t *testing.T) {
	url := servicetest.NATS(t)
	spec := copylast.PushTSpec()
	spec.ContextLen = 4
	direct := newDrift(spec)
	serve(t, url, "pusht", newDrift(spec), ServeOptions{})
	remote := dial(t, url, "pusht", DialOptions{})
	if mp := remote.call.Conn().MaxPayload(); mp != 1<<20 {
		t.Fatalf("max_payload %d, want the 1 MiB default", mp)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	contexts := make([][]worldmodel.Observation, 16)
	for i := range contexts {
		contexts[i] = modeltest.Observations(spec, 4, rng)
	}
	sameSteps(t, direct, remote, contexts, 2, func(int) [][][]float32 { return modeltest.Actions(spec, 16, 8, rng) }, nil)

	ctx := context.Background()
	t.Run("too large", func(t *testing.T) {
		serve(t, url, "small", newDrift(spec), ServeOptions{MaxMessageBytes: 1 << 20})
		small := dial(t, url, "small", DialOptions{})
		if _, err := small.Start(ctx, contexts); !errors.Is(err, errcode.TooLarge) {
			t.Fatalf("start of 1.8 MB on a 1 MiB limit: %v, want too_large", err)
		}
		client := dial(t, url, "pusht", DialOptions{MaxMessageBytes: 1 << 20})
		r, err := client.Start(ctx, contexts[:1])
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := r.Step(ctx, modeltest.Actions(spec, 1, 64, rng)); !errors.Is(err, errcode.TooLarge) {
			t.Fatalf("reply of 1.7 MB on a client limit of 1 MiB: %v, want too_large", err)
		}
	})
}

func TestRegistryBackend(t *testing.T) {
	url := servicetest.NATSWith(t, bus.EmbeddedConfig{Token: "s3cret"})
	spec := smallSpec()
	srv, err := Serve(context.Background(), servicetest.Connect(t, url, nats.Token("s3cret")), "drift", newDrift(spec), ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	good := worldmodel.Options{service.OptNATSURL: url, OptModel: "drift", service.OptToken: "s3cret", service.OptTimeout: "5s"}
	with := func(k, v string) worldmodel.Options {
		o := worldmodel.Options{}
		for k, v := range good {
			o[k] = v
		}
		if v == "" {
			delete(o, k)
		} else {
			o[k] = v
		}
		return o
	}
	tests := []struct {
		name string
		opts worldmodel.Options
		want []error
	}{
		{"token", good, nil},
		{"wrong token", with(service.OptToken, "guess"), []error{errcode.Unauthorized}},
		{"unknown model", with(OptModel, "nope"), []error{errcode.UnknownModel, worldmodel.ErrUnknownBackend}},
		{"no model", with(OptModel, ""), []error{errcode.BadRequest}},
		{"unknown option", with("colour", "red"), []error{errcode.BadRequest}},
		{"bad timeout", with(service.OptTimeout, "soon"), []error{errcode.BadRequest}},
		{"bad model name", with(OptModel, "a.b"), []error{errcode.BadRequest}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := worldmodel.Open(ctx, BackendName, tt.opts)
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("err = %v, want errors.Is %v", err, w)
				}
			}
			if tt.want != nil {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			modeltest.Contract(t, m)
			if err := m.(interface{ Close() error }).Close(); err != nil {
				t.Fatal(err)
			}
			if !m.(*Model).call.Conn().IsClosed() {
				t.Fatal("Close left the connection open")
			}
		})
	}
}

// TestServeContext: a replica stops when its ctx ends, closing its
// sessions' rollouts and leaving its subjects.
func TestServeContext(t *testing.T) {
	url := servicetest.NATS(t)
	spec := smallSpec()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := Serve(ctx, servicetest.Connect(t, url), "drift", newDrift(spec), ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	remote := dial(t, url, "drift", DialOptions{Attempts: 1})
	rng := rand.New(rand.NewPCG(25, 26))
	r, err := remote.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	servicetest.Eventually(t, 10*time.Second, "the replica stops", func() bool { return srv.Sessions() == 0 && srv.Service().Stopped() })
	if _, err := r.Step(context.Background(), modeltest.Actions(spec, 1, 1, rng)); !errors.Is(err, worldmodel.ErrClosed) {
		t.Fatalf("step on a stopped replica: %v, want ErrClosed", err)
	}
	if _, err := remote.Start(context.Background(), [][]worldmodel.Observation{modeltest.Observations(spec, 1, rng)}); !errors.Is(err, errcode.UnknownModel) {
		t.Fatalf("start with no replica: %v, want unknown_model", err)
	}
}
