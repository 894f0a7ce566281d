// Package servertest starts embedded NATS servers, job servers and workers
// for tests, with a fake catalogue and runner so tests can drive the whole
// job path (submit, dispatch, run, count, result) with trivial tasks.
package servertest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/evaluator/imagine"
	"dreamrank/foundation/bus"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/worker"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
)

// Catalog has three zoo arms (a, b, c) on a "fake" backend, a "fake" world
// model, the PushT judge and a "toy" scenario of 4 default episodes.
func Catalog() job.Catalog {
	z, err := zoo.Parse("servertest", []byte(`arms:
  - {name: a, backend: fake}
  - {name: b, backend: fake}
  - {name: c, backend: fake}
`))
	if err != nil {
		panic(err)
	}
	return job.Catalog{Zoo: z, PolicyBackends: []string{"fake"}, ModelBackends: []string{"fake"}, DrawBackends: []string{"fake"},
		Judges: []string{job.DefaultJudge}, Scenarios: []job.ScenarioInfo{{Name: "toy", FirstSeed: 0, Horizon: 10, DefaultEpisodes: 4}}}
}

// Spec is a valid spec over the catalogue's arms.
func Spec(arms ...string) job.Spec {
	s := job.Spec{Version: job.SpecVersion, WorldModel: job.ModelRef{Backend: "fake"}, Scenarios: []string{"toy"}}
	for _, a := range arms {
		s.Policies = append(s.Policies, job.PolicyRef{Arm: a})
	}
	return s
}

// Runner is a fake runner: an episode succeeds when Succeeds says so
// (default: even seeds). It counts runs per task, and Hook, when set, runs
// first and may block or fail.
type Runner struct {
	Succeeds func(arm string, seed int64) bool
	Hook     func(ctx context.Context, t job.Task) error
	// Features, when set, gives each episode's critical variables and
	// world-model features (safety scenarios).
	Features func(t job.Task, seed int64) (critical, features []float64)

	mu   sync.Mutex
	runs map[string]int
}

// Run implements worker.Runner.
func (r *Runner) Run(ctx context.Context, t job.Task) (job.Outcome, error) {
	r.mu.Lock()
	if r.runs == nil {
		r.runs = map[string]int{}
	}
	r.runs[fmt.Sprintf("%s.%d", t.Job, t.Index)]++
	r.mu.Unlock()
	if r.Hook != nil {
		if err := r.Hook(ctx, t); err != nil {
			return job.Outcome{}, err
		}
	}
	var o job.Outcome
	for _, s := range t.Seeds {
		ok := s%2 == 0
		if r.Succeeds != nil {
			ok = r.Succeeds(t.Arm.Name, s)
		}
		reward := 0.3
		if ok {
			reward = 1
		}
		o.Episodes = append(o.Episodes, imagine.Outcome{Result: trial.Result{Seed: s, Success: ok, MaxReward: reward, Steps: 5, StepsToSuccess: -1}})
		if r.Features != nil {
			c, f := r.Features(t, s)
			o.Critical, o.Features = append(o.Critical, c), append(o.Features, f)
		}
	}
	return o, nil
}

// Runs is how often task i of job id ran.
func (r *Runner) Runs(id string, i int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs[fmt.Sprintf("%s.%d", id, i)]
}

// TotalRuns counts every run.
func (r *Runner) TotalRuns() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, v := range r.runs {
		n += v
	}
	return n
}

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// NATS starts an embedded server with JetStream in dir (t.TempDir() when
// empty) on port (random when 0); it shuts down with the test.
func NATS(t testing.TB, dir string, port int) *bus.Embedded {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// Connect dials url; the connection closes with the test.
func Connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(context.Background(), bus.Config{URL: url, Name: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Server starts a job server with the fake catalogue (cfg.Catalog unless
// set) and short ack waits; it stops with the test.
func Server(t testing.TB, nc *nats.Conn, cfg server.Config) *server.Server {
	t.Helper()
	if cfg.Catalog.Zoo == nil {
		cfg.Catalog = Catalog()
	}
	if cfg.Queue.AckWait == 0 {
		cfg.Queue.AckWait = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := server.Start(ctx, nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

// Workers runs n workers on nc with runner until the returned stop is
// called (or the test ends).
func Workers(t testing.TB, nc *nats.Conn, n int, run worker.Runner, cfg worker.Config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	res, err := openQueue(ctx, nc)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		c := cfg
		c.Name = fmt.Sprintf("%s-w%d", cfg.Name, i)
		if c.Backoff == 0 {
			c.Backoff = 50 * time.Millisecond
		}
		if c.IdleWait == 0 {
			c.IdleWait = 50 * time.Millisecond
		}
		w := worker.New(res, run, c)
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// openQueue opens the server's resources, retrying while a cluster elects
// its JetStream leaders.
func openQueue(ctx context.Context, nc *nats.Conn) (*queue.Resources, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := queue.Open(ctx, nc)
		if err == nil || time.Now().After(deadline) {
			return res, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Wait polls a job until it reaches a final state or timeout passes, and
// returns its last status.
func Wait(t testing.TB, c jobapi.Client, id string, timeout time.Duration) job.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st job.Status
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := c.Status(ctx, id)
		cancel()
		if err == nil {
			st = s
			if s.State.Final() {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s not finished after %v: %+v", id, timeout, st)
	return st
}
