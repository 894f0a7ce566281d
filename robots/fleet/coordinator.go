package fleet

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/episode"
)

// Config configures a Coordinator. Zero values take the defaults.
type Config struct {
	// Replicas of the streams and buckets (1 on one server).
	Replicas int
	// HeartbeatEvery is how often robots heartbeat (default 1s); a robot
	// silent for MissedHeartbeats of them (default 3) is offline and its
	// assignment goes to another robot.
	HeartbeatEvery   time.Duration
	MissedHeartbeats int
	// EpisodeTimeout bounds an assignment from dispatch to stored outcome
	// (default 10m); past it the episode is reassigned.
	EpisodeTimeout time.Duration
	// AssignTimeout is how long a robot has to accept (default 2s).
	AssignTimeout time.Duration
	// MaxAttempts is how many assignments a request gets before its result
	// records the last error (default 3).
	MaxAttempts int
	// ChunkSize is the upload chunk size robots are told (default
	// DefaultChunk).
	ChunkSize int
	// Episodes, when set, receives every uploaded episode with its
	// provenance (episode id = assignment id).
	Episodes *episode.Store
	// AckWait of the request consumer (default 1m); held requests are kept
	// alive at a third of it, so a crashed coordinator's requests are
	// redelivered to the next one.
	AckWait time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

func (c *Config) defaults() {
	c.Replicas = max(c.Replicas, 1)
	c.HeartbeatEvery = cmp.Or(c.HeartbeatEvery, time.Second)
	c.MissedHeartbeats = cmp.Or(c.MissedHeartbeats, 3)
	c.EpisodeTimeout = cmp.Or(c.EpisodeTimeout, 10*time.Minute)
	c.AssignTimeout = cmp.Or(c.AssignTimeout, 2*time.Second)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 3)
	c.ChunkSize = cmp.Or(c.ChunkSize, DefaultChunk)
	c.AckWait = cmp.Or(c.AckWait, time.Minute)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Coordinator schedules requested episodes on the fleet's robots. Its book
// of robots, requests and assignments, and the decisions made on it, are
// the assigner's (assigner.go); the Coordinator carries them out on NATS
// (schedule.go), answers the robots' messages (handlers.go) and takes their
// uploaded logs in (ingest.go, intake.go).
type Coordinator struct {
	cfg     Config
	nc      *nats.Conn
	intake  intake
	results jetstream.KeyValue
	cc      jetstream.ConsumeContext
	subs    []*nats.Subscription
	log     *slog.Logger
	// Client requests episodes and reads results (Request, Results,
	// Wait) on the coordinator's connection.
	*Client

	// mu guards the assigner and the counts below.
	mu       sync.Mutex
	assigner *assigner
	finished []time.Time // completion times (last minute), for throughput
	done     int
	started  time.Time
	lastKeep time.Time

	kick    chan struct{}
	stop    context.CancelFunc
	runCtx  context.Context
	wg      sync.WaitGroup
	stopped sync.Once
}

// Start creates the fleet's JetStream resources and starts coordinating on
// nc. Stop ends it; queued requests stay in JetStream.
func Start(ctx context.Context, nc *nats.Conn, cfg Config) (*Coordinator, error) {
	cfg.defaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	st, err := createStreams(ctx, js, cfg)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	c := &Coordinator{cfg: cfg, nc: nc, results: st.results, log: cfg.Logger, Client: &Client{js: js},
		intake: intake{js: js, uploads: st.uploads, logs: st.logs, episodes: cfg.Episodes}, assigner: newAssigner(cfg),
		started: cfg.Now(), kick: make(chan struct{}, 1), stop: stop, runCtx: runCtx}
	if err := c.subscribe(); err != nil {
		c.Stop()
		return nil, err
	}
	if c.cc, err = st.requests.Consume(c.onRequest); err != nil {
		c.Stop()
		return nil, fmt.Errorf("fleet: consume requests: %w", err)
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.loop(runCtx) }()
	c.log.Info("fleet coordinator started", "heartbeat", cfg.HeartbeatEvery, "episode_timeout", cfg.EpisodeTimeout)
	return c, nil
}

// subscribe takes every robot's messages and status requests, and flushes
// so that none sent after Start returns is missed.
func (c *Coordinator) subscribe() error {
	handlers := map[string]nats.MsgHandler{
		VerbRegister: c.onRegister, VerbHeartbeat: c.onHeartbeat, VerbProgress: c.onProgress,
		VerbOutcome: c.onOutcome, VerbUpload: c.onUpload,
	}
	for _, verb := range RobotVerbs {
		sub, err := c.nc.Subscribe(robotWildcard(verb), handlers[verb])
		if err != nil {
			return fmt.Errorf("fleet: subscribe %s: %w", verb, err)
		}
		c.subs = append(c.subs, sub)
	}
	sub, err := c.nc.Subscribe(StatusSubject, c.onStatus)
	if err != nil {
		return fmt.Errorf("fleet: subscribe status: %w", err)
	}
	c.subs = append(c.subs, sub)
	if err := c.nc.FlushTimeout(10 * time.Second); err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	return nil
}

// Stop stops coordinating and waits for the background work. Unfinished
// requests are redelivered to the next coordinator.
func (c *Coordinator) Stop() {
	c.stopped.Do(func() {
		if c.cc != nil {
			c.cc.Stop()
		}
		for _, s := range c.subs {
			_ = s.Unsubscribe()
		}
		c.stop()
		c.wg.Wait()
		// Hand the requests not yet answered to the next coordinator now
		// rather than after the ack wait.
		c.mu.Lock()
		held := c.assigner.release()
		c.mu.Unlock()
		for _, m := range held {
			_ = m.Nak()
		}
	})
}

func (c *Coordinator) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Coordinator) loop(ctx context.Context) {
	every := min(c.cfg.HeartbeatEvery/2, 500*time.Millisecond)
	t := time.NewTicker(max(every, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.sweep(ctx)
		case <-c.kick:
		}
		c.schedule(ctx)
	}
}

// streams are the fleet's JetStream resources the coordinator uses.
type streams struct {
	requests jetstream.Consumer
	uploads  jetstream.Stream
	results  jetstream.KeyValue
	logs     jetstream.ObjectStore
}

// createStreams creates (or updates) the fleet's streams, buckets and the
// coordinator's request consumer.
func createStreams(ctx context.Context, js jetstream.JetStream, cfg Config) (streams, error) {
	reqs, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: RequestStream, Subjects: []string{RequestPrefix + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: cfg.Replicas, Duplicates: DupWindow, MaxMsgSize: MaxMessage,
	})
	if err != nil {
		return streams{}, fmt.Errorf("fleet: request stream: %w", err)
	}
	uploads, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: UploadStream, Subjects: []string{UploadPrefix + ".>"}, Storage: jetstream.FileStorage,
		Replicas: cfg.Replicas, Duplicates: DupWindow, MaxMsgsPerSubject: 1, MaxMsgSize: MaxChunk + 4096,
	})
	if err != nil {
		return streams{}, fmt.Errorf("fleet: upload stream: %w", err)
	}
	results, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: ResultBucket, Storage: jetstream.FileStorage, Replicas: cfg.Replicas, History: 1,
	})
	if err != nil {
		return streams{}, fmt.Errorf("fleet: result bucket: %w", err)
	}
	logs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: LogBucket, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
	})
	if err != nil {
		return streams{}, fmt.Errorf("fleet: log store: %w", err)
	}
	requests, err := reqs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: CoordinatorConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: cfg.AckWait,
		MaxDeliver: -1, MaxAckPending: 100_000, Replicas: cfg.Replicas,
	})
	if err != nil {
		return streams{}, fmt.Errorf("fleet: request consumer: %w", err)
	}
	return streams{requests: requests, uploads: uploads, results: results, logs: logs}, nil
}
