// Package loadgen measures the job server's own overhead: jobs whose tasks
// do no work, run through the real path (embedded NATS with JetStream on
// loopback, job API, work queue, workers, aggregation), timed against a
// plain NATS request-reply and a JetStream publish measured in the same run,
// because this machine is noisy.
package loadgen

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// Config says what to measure. Zero values take the defaults.
type Config struct {
	Tasks   int // tasks of the throughput job (default 2000)
	Workers int // default 2
	Jobs    int // one-task jobs timed end to end (default 30)
	// Dir holds JetStream's files (default a temporary directory).
	Dir string
	// TLS runs every connection (API client, job server, workers, the
	// baselines) over TLS with a CA made for the run.
	TLS bool
}

// Report is the measurement.
type Report struct {
	Tasks   int  `json:"tasks"`
	Workers int  `json:"workers"`
	TLS     bool `json:"tls"`
	// DispatchSeconds is the throughput job's wall time, submit to result.
	DispatchSeconds float64 `json:"dispatch_seconds"`
	TasksPerSecond  float64 `json:"tasks_per_second"`
	// MsPerTask is wall time per task; WorkerMsPerTask multiplies by the
	// workers (the time one worker spends per task, all overhead).
	MsPerTask       float64 `json:"ms_per_task"`
	WorkerMsPerTask float64 `json:"worker_ms_per_task"`
	// JobLatencyMs: submit to succeeded for one-task jobs.
	JobLatencyP50Ms float64 `json:"job_latency_p50_ms"`
	JobLatencyP95Ms float64 `json:"job_latency_p95_ms"`
	// Baselines measured in the same run on the same server.
	RequestReplyMs     float64 `json:"baseline_request_reply_ms"`
	JetStreamPublishMs float64 `json:"baseline_jetstream_publish_ms"`
	// TaskCostInRoundTrips is WorkerMsPerTask / RequestReplyMs.
	TaskCostInRoundTrips float64 `json:"task_cost_in_round_trips"`
}

// echo is a runner that does no work: one successful episode per seed.
type echo struct{}

func (echo) Run(_ context.Context, t job.Task) (job.Outcome, error) {
	var o job.Outcome
	for _, s := range t.Seeds {
		o.Episodes = append(o.Episodes, imagine.Outcome{Result: trial.Result{Seed: s, Success: true, MaxReward: 1, StepsToSuccess: 1}})
	}
	return o, nil
}

func catalog() job.Catalog {
	z, err := zoo.Parse("loadgen", []byte("arms:\n  - {name: echo-a, backend: echo}\n  - {name: echo-b, backend: echo}\n"))
	if err != nil {
		panic(err) // a constant
	}
	return job.Catalog{Zoo: z, PolicyBackends: []string{"echo"}, ModelBackends: []string{"echo"}, Judges: []string{job.DefaultJudge},
		Scenarios: []job.ScenarioInfo{{Name: "echo", Horizon: 1, DefaultEpisodes: 1}}}
}

// Run measures.
func Run(ctx context.Context, c Config) (Report, error) {
	c.Tasks, c.Workers, c.Jobs = cmp.Or(c.Tasks, 2000), cmp.Or(c.Workers, 2), cmp.Or(c.Jobs, 30)
	rep := Report{Tasks: c.Tasks, Workers: c.Workers, TLS: c.TLS}
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "dreamrank-loadgen-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	ec, client, err := tlsConfigs(c.TLS, dir)
	if err != nil {
		return rep, err
	}
	ec.StoreDir = filepath.Join(dir, "jetstream")
	e, err := bus.StartEmbedded(ctx, ec)
	if err != nil {
		return rep, err
	}
	defer e.Shutdown()
	client.URL = e.URL()
	connect := func(name string) (*nats.Conn, error) {
		cc := client
		cc.Name = name
		return bus.Connect(ctx, cc)
	}
	nc, err := connect("loadgen")
	if err != nil {
		return rep, err
	}
	defer nc.Close()
	lim := job.DefaultLimits()
	lim.MaxEpisodes, lim.MaxTasks, lim.MaxTotalEpisodes = c.Tasks, c.Tasks, c.Tasks
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.Start(ctx, nc, server.Config{Catalog: catalog(), Limits: lim, Logger: quiet})
	if err != nil {
		return rep, err
	}
	defer srv.Stop()
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range c.Workers {
		wnc, err := connect(fmt.Sprintf("loadgen-worker-%d", i))
		if err != nil {
			stop()
			return rep, err
		}
		defer wnc.Close()
		res, err := queue.Open(ctx, wnc)
		if err != nil {
			stop()
			return rep, err
		}
		w := worker.New(res, echo{}, worker.Config{Name: fmt.Sprintf("w%d", i), Logger: quiet, IdleWait: 20 * time.Millisecond})
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(wctx) }()
	}
	defer func() { stop(); wg.Wait() }()

	if rep.RequestReplyMs, err = requestReply(ctx, nc, connect); err != nil {
		return rep, err
	}
	if rep.JetStreamPublishMs, err = jsPublish(ctx, nc); err != nil {
		return rep, err
	}
	cl := jobapi.Client{NC: nc}
	spec := job.Spec{Version: job.SpecVersion, Policies: []job.PolicyRef{{Arm: "echo-a"}},
		WorldModel: job.ModelRef{Backend: "echo"}, Scenarios: []string{"echo"}, Episodes: c.Tasks, SeedsPerTask: 1}
	t0 := time.Now()
	if _, err := runJob(ctx, cl, spec); err != nil {
		return rep, err
	}
	rep.DispatchSeconds = time.Since(t0).Seconds()
	rep.TasksPerSecond = float64(c.Tasks) / rep.DispatchSeconds
	rep.MsPerTask = 1000 * rep.DispatchSeconds / float64(c.Tasks)
	rep.WorkerMsPerTask = rep.MsPerTask * float64(c.Workers)
	rep.TaskCostInRoundTrips = rep.WorkerMsPerTask / rep.RequestReplyMs

	spec.Episodes = 1
	var lat []float64
	for range c.Jobs {
		t := time.Now()
		if _, err := runJob(ctx, cl, spec); err != nil {
			return rep, err
		}
		lat = append(lat, 1000*time.Since(t).Seconds())
	}
	slices.Sort(lat)
	rep.JobLatencyP50Ms = lat[len(lat)/2]
	rep.JobLatencyP95Ms = lat[min(len(lat)-1, len(lat)*95/100)]
	return rep, nil
}

// runJob submits spec and polls (every millisecond) until it ends.
func runJob(ctx context.Context, c jobapi.Client, spec job.Spec) (job.Status, error) {
	rep, err := c.Submit(ctx, spec, "")
	if err != nil {
		return job.Status{}, err
	}
	for {
		st, err := c.Status(ctx, rep.ID)
		if err != nil {
			return st, err
		}
		if st.State.Final() {
			if st.State != job.Succeeded {
				return st, fmt.Errorf("loadgen: job %s %s: %s", st.ID, st.State, st.Reason)
			}
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// requestReply times a plain NATS round trip between two connections.
func requestReply(ctx context.Context, nc *nats.Conn, connect func(string) (*nats.Conn, error)) (float64, error) {
	other, err := connect("loadgen-echo")
	if err != nil {
		return 0, err
	}
	defer other.Close()
	sub, err := other.Subscribe("loadgen.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := other.Flush(); err != nil {
		return 0, err
	}
	const n = 2000
	t := time.Now()
	for range n {
		if _, err := nc.RequestWithContext(ctx, "loadgen.echo", []byte("x")); err != nil {
			return 0, err
		}
	}
	return 1000 * time.Since(t).Seconds() / n, nil
}

// jsPublish times a synchronous JetStream publish to a file stream.
func jsPublish(ctx context.Context, nc *nats.Conn) (float64, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return 0, err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "LOADGEN", Subjects: []string{"loadgen.js"},
		Storage: jetstream.FileStorage}); err != nil {
		return 0, err
	}
	defer js.DeleteStream(context.Background(), "LOADGEN")
	const n = 2000
	t := time.Now()
	for range n {
		if _, err := js.Publish(ctx, "loadgen.js", []byte("x")); err != nil {
			return 0, err
		}
	}
	return 1000 * time.Since(t).Seconds() / n, nil
}
