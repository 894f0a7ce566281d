// Package queue names and creates the JetStream resources the server and
// its workers share (the task work queue, the outcome stream, the job and
// idempotency buckets, the artifact store) and moves tasks and outcomes
// through them. Every publish carries a message id, so a retried publish is
// stored once.
package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/job"
)

// Resource names, all under the dreamrank prefix.
const (
	TaskStream     = "DREAMRANK_TASKS"
	OutcomeStream  = "DREAMRANK_OUTCOMES"
	JobBucket      = "dreamrank_jobs"
	PlanBucket     = "dreamrank_plans"
	IdemBucket     = "dreamrank_idempotency"
	ArtifactBucket = "dreamrank_artifacts"
	// StateBucket keeps small server state (the scheduler's last run).
	StateBucket = "dreamrank_state"
	// Aggregator is the durable consumer the server counts outcomes with.
	Aggregator = "aggregator"
	// DupWindow is how long JetStream remembers message ids.
	DupWindow = 30 * time.Minute
	// TaskPrefix and OutcomePrefix start the task and outcome subjects.
	TaskPrefix    = "dreamrank.tasks"
	OutcomePrefix = "dreamrank.outcomes"
)

// TaskSubject is where task i of job id waits, by priority.
func TaskSubject(priority, id string, i int) string {
	return fmt.Sprintf("dreamrank.tasks.%s.%s.%d", priority, id, i)
}

// JobTasks matches every queued task of job id.
func JobTasks(id string) string { return TaskPrefix + ".*." + id + ".*" }

// OutcomeSubject is where task i's outcome is kept (one per subject).
func OutcomeSubject(id string, i int) string { return fmt.Sprintf("%s.%s.%d", OutcomePrefix, id, i) }

// WorkerConsumer is the durable pull consumer for one priority.
func WorkerConsumer(priority string) string { return "workers-" + priority }

// Config tunes the resources.
type Config struct {
	// Replicas of every stream and bucket (1 on a single server, 3 in a
	// cluster).
	Replicas int
	// AckWait is how long a task may run without a heartbeat before it is
	// redelivered; workers heartbeat at a third of it.
	AckWait time.Duration
	// Limits cap each resource's bytes, so that a flood of one kind
	// cannot crowd out the others or fill the disk; zero fields are
	// unlimited (an external NATS deployment sets its own account limits).
	Limits Limits
}

// Limits are the most bytes each resource keeps (0: unlimited). JetStream
// reserves them from the server's store up front. A full task or outcome
// stream refuses new messages (a submit then fails, a worker retries its
// outcome later) rather than dropping old ones, which would lose work.
type Limits struct {
	Tasks, Outcomes, Artifacts, Buckets int64
}

// LimitsFor shares a JetStream store of store bytes among the resources:
// 5% for queued tasks, 10% for outcomes, 2% for each of the five buckets
// and 70% for artifacts (videos, results, reports), leaving 5% spare.
func LimitsFor(store int64) Limits {
	pct := func(p int64) int64 { return store / 100 * p }
	return Limits{Tasks: pct(5), Outcomes: pct(10), Buckets: pct(2), Artifacts: pct(70)}
}

// or is v, or JetStream's "unlimited".
func or(v int64) int64 {
	if v <= 0 {
		return -1
	}
	return v
}

func (c Config) withDefaults() Config {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	l := &c.Limits
	l.Tasks, l.Outcomes, l.Artifacts, l.Buckets = or(l.Tasks), or(l.Outcomes), or(l.Artifacts), or(l.Buckets)
	return c
}

// Resources are the opened JetStream resources.
type Resources struct {
	JS        jetstream.JetStream
	Tasks     jetstream.Stream
	Outcomes  jetstream.Stream
	Jobs      jetstream.KeyValue
	Plans     jetstream.KeyValue
	Idem      jetstream.KeyValue
	Artifacts jetstream.ObjectStore
	State     jetstream.KeyValue
	Workers   []jetstream.Consumer // by priority, highest first
	AckWait   time.Duration
}

// Ensure creates (or updates) every resource and opens them.
func Ensure(ctx context.Context, nc *nats.Conn, c Config) (*Resources, error) {
	c = c.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	r := &Resources{JS: js, AckWait: c.AckWait}
	if r.Tasks, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: TaskStream, Subjects: []string{TaskPrefix + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: c.Replicas, Duplicates: DupWindow,
		MaxBytes: c.Limits.Tasks, Discard: jetstream.DiscardNew,
	}); err != nil {
		return nil, fmt.Errorf("queue: task stream: %w", err)
	}
	if r.Outcomes, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: OutcomeStream, Subjects: []string{OutcomePrefix + ".>"}, Storage: jetstream.FileStorage,
		Replicas: c.Replicas, Duplicates: DupWindow, MaxMsgsPerSubject: 1, MaxMsgSize: 8 << 20,
		MaxBytes: c.Limits.Outcomes, Discard: jetstream.DiscardNew,
	}); err != nil {
		return nil, fmt.Errorf("queue: outcome stream: %w", err)
	}
	for _, p := range job.Priorities() {
		cons, err := r.Tasks.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: WorkerConsumer(p), FilterSubject: TaskPrefix + "." + p + ".>",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.AckWait, MaxDeliver: -1, MaxAckPending: 10000,
			Replicas: c.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("queue: %s consumer: %w", p, err)
		}
		r.Workers = append(r.Workers, cons)
	}
	if r.Jobs, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: JobBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, History: 1, MaxBytes: c.Limits.Buckets,
	}); err != nil {
		return nil, fmt.Errorf("queue: job bucket: %w", err)
	}
	if r.Plans, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: PlanBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, History: 1, MaxBytes: c.Limits.Buckets,
	}); err != nil {
		return nil, fmt.Errorf("queue: plan bucket: %w", err)
	}
	if r.Idem, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: IdemBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, History: 1, MaxBytes: c.Limits.Buckets,
	}); err != nil {
		return nil, fmt.Errorf("queue: idempotency bucket: %w", err)
	}
	if r.Artifacts, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ArtifactBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, MaxBytes: c.Limits.Artifacts,
	}); err != nil {
		return nil, fmt.Errorf("queue: artifact store: %w", err)
	}
	if r.State, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: StateBucket, Storage: jetstream.FileStorage, Replicas: c.Replicas, History: 1, MaxBytes: c.Limits.Buckets,
	}); err != nil {
		return nil, fmt.Errorf("queue: state bucket: %w", err)
	}
	return r, nil
}

// Open opens resources a server created, for workers and clients (which
// must not reconfigure them): OpenWorker's plus the state bucket.
func Open(ctx context.Context, nc *nats.Conn) (*Resources, error) {
	r, err := OpenWorker(ctx, nc)
	if err != nil {
		return nil, err
	}
	if r.State, err = r.JS.KeyValue(ctx, StateBucket); err != nil {
		return nil, fmt.Errorf("queue: state bucket: %w", err)
	}
	return r, nil
}

// OpenWorker opens what a worker uses and nothing more (the task stream's
// worker consumers, the job records, the artifact store), so that it works
// with a worker's least-privilege login (ops/access).
func OpenWorker(ctx context.Context, nc *nats.Conn) (*Resources, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	r := &Resources{JS: js}
	if r.Tasks, err = js.Stream(ctx, TaskStream); err != nil {
		return nil, fmt.Errorf("queue: task stream (is a server running?): %w", err)
	}
	if r.Jobs, err = js.KeyValue(ctx, JobBucket); err != nil {
		return nil, fmt.Errorf("queue: job bucket: %w", err)
	}
	if r.Artifacts, err = js.ObjectStore(ctx, ArtifactBucket); err != nil {
		return nil, fmt.Errorf("queue: artifact store: %w", err)
	}
	for _, p := range job.Priorities() {
		cons, err := r.Tasks.Consumer(ctx, WorkerConsumer(p))
		if err != nil {
			return nil, fmt.Errorf("queue: %s consumer: %w", p, err)
		}
		r.Workers = append(r.Workers, cons)
		r.AckWait = cons.CachedInfo().Config.AckWait
	}
	return r, nil
}

// PublishTasks queues tasks[from:] at priority and returns how many were
// stored; a message id per task makes a repeated publish a no-op.
func (r *Resources) PublishTasks(ctx context.Context, priority string, tasks []job.Task) (int, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(tasks))
	for _, t := range tasks {
		raw, err := json.Marshal(t)
		if err != nil {
			return 0, err
		}
		f, err := r.JS.PublishMsgAsync(&nats.Msg{Subject: TaskSubject(priority, t.Job, t.Index), Data: raw},
			jetstream.WithMsgID(fmt.Sprintf("%s.%d", t.Job, t.Index)))
		if err != nil {
			return 0, fmt.Errorf("queue: publish task %d: %w", t.Index, err)
		}
		futures = append(futures, f)
	}
	for n, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return n, fmt.Errorf("queue: publish task %d: %w", tasks[n].Index, err)
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return len(tasks), nil
}

// PublishOutcome stores a task's outcome; a repeat (a task run twice) is
// stored once within the dedup window and replaces the earlier outcome
// after it, so each task has exactly one outcome on the stream.
func PublishOutcome(ctx context.Context, js jetstream.JetStream, o job.Outcome) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return err
	}
	_, err = js.PublishMsg(ctx, &nats.Msg{Subject: OutcomeSubject(o.Job, o.Task), Data: raw},
		jetstream.WithMsgID(fmt.Sprintf("%s.%d", o.Job, o.Task)))
	if err != nil {
		return fmt.Errorf("queue: publish outcome of task %d: %w", o.Task, err)
	}
	return nil
}

// JobOfSubject returns the job id and task index of a task or outcome
// subject.
func JobOfSubject(subject string) (string, string, bool) {
	parts := strings.Split(subject, ".")
	if len(parts) < 4 {
		return "", "", false
	}
	return parts[len(parts)-2], parts[len(parts)-1], true
}
