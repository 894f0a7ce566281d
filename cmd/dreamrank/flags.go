package main

import (
	"cmp"
	"context"
	"dreamrank/ops/wmfidelity"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/bus"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/access"
	"dreamrank/ops/deploy"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/schedule"
	"dreamrank/policy"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/latent"
	"dreamrank/worldmodel/objects"
	"dreamrank/worldmodel/slots"
)

// busFlags say how a command reaches NATS.
type busFlags struct {
	cfg bus.Config
}

func (f *busFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cfg.URL, "nats", "", "NATS URL of an existing deployment (empty: start an embedded server)")
	cmd.Flags().StringVar(&f.cfg.Creds, "creds", "", "NATS credentials file (JWT + nkey)")
	cmd.Flags().StringVar(&f.cfg.Nkey, "nkey", "", "file with an NATS nkey seed (the user's private key)")
	cmd.Flags().StringVar(&f.cfg.Token, "token", "", "NATS token")
	cmd.Flags().StringVar(&f.cfg.User, "user", "", "NATS user")
	cmd.Flags().StringVar(&f.cfg.Password, "password", "", "NATS password")
	cmd.Flags().StringVar(&f.cfg.Login, "login", "", "login file of a named user with a role (NAME.login.json from 'dreamrank creds add')")
	cmd.Flags().StringVar(&f.cfg.TLSCA, "tls-ca", "", "CA certificate that must have signed the NATS server's (default: the system's roots; 'dreamrank certs init' makes one)")
	cmd.Flags().StringVar(&f.cfg.TLSCert, "tls-client-cert", "", "client certificate, for servers that require one (--tls-client-ca)")
	cmd.Flags().StringVar(&f.cfg.TLSKey, "tls-client-key", "", "the client certificate's key")
}

// apiClient is the job API as the login (if any) calls it: a user's own
// subjects, or the operator's.
func (f *busFlags) apiClient(nc *nats.Conn) (jobapi.Client, error) {
	if f.cfg.Login == "" {
		return jobapi.Client{NC: nc}, nil
	}
	l, err := bus.ReadLogin(f.cfg.Login)
	if err != nil {
		return jobapi.Client{}, err
	}
	return jobapi.Client{NC: nc, User: access.APIUser(l)}, nil
}

// defaultNATS is where clients look for a server: $DREAMRANK_NATS, or the
// embedded default of `dreamrank serve`.
func defaultNATS() string {
	if u := os.Getenv("DREAMRANK_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// registerClient registers the flags of commands that talk to a running
// server.
func (f *busFlags) registerClient(cmd *cobra.Command) {
	f.register(cmd)
	cmd.Flags().Lookup("nats").DefValue = defaultNATS()
	_ = cmd.Flags().Set("nats", defaultNATS())
	cmd.Flags().Lookup("nats").Usage = "NATS URL of the job server ($DREAMRANK_NATS)"
}

func (f *busFlags) client(ctx context.Context, name string) (jobapi.Client, func(), error) {
	f.cfg.Name = name
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, err := bus.Connect(cctx, f.cfg)
	if errors.Is(err, errcode.Unavailable) {
		return jobapi.Client{}, nil, fmt.Errorf("%w (is 'dreamrank serve' running?)", err)
	}
	if err != nil {
		return jobapi.Client{}, nil, err
	}
	c, err := f.apiClient(nc)
	if err != nil {
		nc.Close()
		return c, nil, err
	}
	return c, nc.Close, nil
}

// queue connects as name and opens the server's JetStream resources; close
// the connection when done.
func (f *busFlags) queue(ctx context.Context, name string) (*nats.Conn, *queue.Resources, error) {
	f.cfg.Name = name
	nc, err := bus.Connect(ctx, f.cfg)
	if err != nil {
		return nil, nil, err
	}
	res, err := queue.Open(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, res, nil
}

// workerQueue connects as name and opens what a worker needs of the
// server's JetStream resources (a worker login may open no more).
func (f *busFlags) workerQueue(ctx context.Context, name string) (*nats.Conn, *queue.Resources, error) {
	f.cfg.Name = name
	nc, err := bus.Connect(ctx, f.cfg)
	if err != nil {
		return nil, nil, err
	}
	res, err := queue.OpenWorker(ctx, nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, res, nil
}

// connectOrEmbed connects as name to --nats, or, without it, to an embedded
// server on port with its files under data/nats. close releases both.
func (f *busFlags) connectOrEmbed(ctx context.Context, data string, port int, name string) (nc *nats.Conn, close func(), err error) {
	var e *bus.Embedded
	if f.cfg.URL == "" {
		if e, err = bus.StartEmbedded(ctx, bus.EmbeddedConfig{Port: port, StoreDir: filepath.Join(data, "nats")}); err != nil {
			return nil, nil, err
		}
		f.cfg.URL = e.URL()
		slog.Info("embedded nats-server", "url", e.URL())
	}
	f.cfg.Name = name
	if nc, err = bus.Connect(ctx, f.cfg); err != nil {
		if e != nil {
			e.Shutdown()
		}
		return nil, nil, err
	}
	return nc, func() {
		nc.Close()
		if e != nil {
			e.Shutdown()
		}
	}, nil
}

// defaultCheckpoint is the committed PushT world model the demo uses.
const defaultCheckpoint = "checkpoints/pusht-wm"

// defaultObjectsCheckpoint is the committed structured PushT world model.
const defaultObjectsCheckpoint = "checkpoints/pusht-objects"

// defaultSlotsCheckpoint is the committed generic world model.
const defaultSlotsCheckpoint = "checkpoints/pusht-slots"

// modelFlags choose a world model by backend name and options.
type modelFlags struct {
	backend    string
	checkpoint string
	opts       []string
}

func (f *modelFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.backend, "backend", slots.Name, "world-model backend: "+strings.Join(worldmodel.Backends(), ", "))
	cmd.Flags().StringVar(&f.checkpoint, "checkpoint", "", "checkpoint directory of a slots, objects or builtin model (a run directory with a latest pointer works too; default: the committed "+defaultSlotsCheckpoint+", "+defaultObjectsCheckpoint+" or "+defaultCheckpoint+")")
	cmd.Flags().StringArrayVar(&f.opts, "opt", nil, "backend option key=value (repeatable), e.g. --opt nats_url=nats://host:4222 --opt model=pusht")
}

func (f *modelFlags) open(ctx context.Context) (worldmodel.Model, error) {
	opts, err := f.options()
	if err != nil {
		return nil, err
	}
	return worldmodel.Open(ctx, f.backend, opts)
}

// committedCheckpoints are the checkpoints the backends with one open by
// default.
var committedCheckpoints = map[string]string{
	slots.Name:   defaultSlotsCheckpoint,
	objects.Name: defaultObjectsCheckpoint,
	latent.Name:  defaultCheckpoint,
}

// options are the backend's options: its checkpoint (--checkpoint, or the
// committed one), then --opt (a later key wins).
func (f *modelFlags) options() (worldmodel.Options, error) {
	opts := worldmodel.Options{}
	if def, ok := committedCheckpoints[f.backend]; ok {
		opts["checkpoint"] = cmp.Or(f.checkpoint, def)
	} else if f.checkpoint != "" {
		return nil, fmt.Errorf("--checkpoint is for the %s, %s and %s backends; give backend %s its options with --opt", slots.Name, objects.Name, latent.Name, f.backend)
	}
	if err := putOpts(opts, f.opts); err != nil {
		return nil, err
	}
	return opts, nil
}

// putOpts adds --opt key=value pairs to opts, a later key winning.
func putOpts(opts map[string]string, kvs []string) error {
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--opt %q: want key=value", kv)
		}
		opts[k] = v
	}
	return nil
}

// heldOutFlags choose a world model and the held-out episodes it is
// measured on (wmfidelity.HeldOut).
type heldOutFlags struct {
	mf      modelFlags
	data    string
	withSim bool
	limit   int
}

// register registers the flags, with the usage of --with-sim and
// --episodes, which say what the command does with the episodes.
func (f *heldOutFlags) register(cmd *cobra.Command, withSimUsage, episodesUsage string) {
	f.mf.register(cmd)
	cmd.Flags().StringVar(&f.data, "data", "data", "data directory holding the episode store")
	cmd.Flags().BoolVar(&f.withSim, "with-sim", false, withSimUsage)
	cmd.Flags().IntVar(&f.limit, "episodes", 0, episodesUsage)
}

// heldOut is the held-out split the flags choose.
func (f *heldOutFlags) heldOut() wmfidelity.HeldOut {
	return wmfidelity.HeldOut{Dir: f.data, WithSim: f.withSim, Limit: f.limit}
}

// open loads the held-out episodes and opens the model.
func (f *heldOutFlags) open(ctx context.Context) ([]*episode.Episode, worldmodel.Model, error) {
	eps, err := f.heldOut().Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	m, err := f.mf.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return eps, m, nil
}

// policyFlags choose a policy: a zoo arm by name, or a backend with --opt,
// and override the steering context.
type policyFlags struct {
	zooFile string
	opts    []string
	quality int
	speed   string
	task    string
	mistake string
	noSteer bool
}

func (f *policyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.zooFile, "zoo", "", "zoo file (default: the committed "+zoo.DefaultPath+")")
	fl.StringArrayVar(&f.opts, "opt", nil, "backend option key=value (repeatable), when NAME is a backend, e.g. --opt quality=3 --opt noise=10")
	fl.IntVar(&f.quality, "quality", 0, "steering: quality 1 (worst) .. 5 (best); overrides the arm's context")
	fl.StringVar(&f.speed, "speed", "", "steering: speed slow, normal or fast; overrides the arm's context")
	fl.StringVar(&f.task, "task", "", "steering: task text; overrides the arm's context")
	fl.StringVar(&f.mistake, "mistake", "", "steering: mistake flag true or false; overrides the arm's context")
	fl.BoolVar(&f.noSteer, "no-steer", false, "give the policy no steering context at all")
}

func (f *policyFlags) zoo() (*zoo.Zoo, error) {
	if f.zooFile == "" {
		return zoo.Default(), nil
	}
	return zoo.Load(f.zooFile)
}

// open opens NAME and returns it with its steering context (nil: none) and
// a label for reports.
func (f *policyFlags) open(cmd *cobra.Command, name string) (policy.Policy, *policy.Context, string, error) {
	z, err := f.zoo()
	if err != nil {
		return nil, nil, "", err
	}
	var (
		p     policy.Policy
		steer *policy.Context
		label = name
	)
	if arm, aerr := z.Arm(name); aerr == nil {
		if len(f.opts) > 0 {
			return nil, nil, "", fmt.Errorf("--opt applies to backends; %q is a zoo arm (its options are in the zoo file)", name)
		}
		p, arm, err = z.Open(cmd.Context(), name)
		if err != nil {
			return nil, nil, "", err
		}
		steer = arm.Steer()
	} else {
		if !slices.Contains(policy.Names(), name) {
			return nil, nil, "", fmt.Errorf("%q is neither a zoo arm (%s) nor a policy backend (%s)",
				name, strings.Join(z.Names(), ", "), strings.Join(policy.Names(), ", "))
		}
		opts, err := parseOpts(f.opts)
		if err != nil {
			return nil, nil, "", err
		}
		if p, err = policy.Open(cmd.Context(), name, opts); err != nil {
			return nil, nil, "", err
		}
		label = name + optsLabel(f.opts)
	}
	steer, err = f.override(cmd, steer)
	if err != nil {
		closePolicy(p)
		return nil, nil, "", err
	}
	return p, steer, label, nil
}

// override applies the steering flags that were given.
func (f *policyFlags) override(cmd *cobra.Command, steer *policy.Context) (*policy.Context, error) {
	fl := cmd.Flags()
	if f.noSteer {
		if fl.Changed("quality") || fl.Changed("speed") || fl.Changed("task") || fl.Changed("mistake") {
			return nil, errors.New("--no-steer contradicts --quality, --speed, --task and --mistake")
		}
		return nil, nil
	}
	if !fl.Changed("quality") && !fl.Changed("speed") && !fl.Changed("task") && !fl.Changed("mistake") {
		return steer, nil
	}
	var c policy.Context
	if steer != nil {
		c = *steer
	}
	if fl.Changed("quality") {
		if f.quality < 1 || f.quality > 5 {
			return nil, fmt.Errorf("--quality %d: want 1..5", f.quality)
		}
		c.Metadata.Quality = f.quality
	}
	if fl.Changed("speed") {
		if !slices.Contains([]string{policy.SpeedSlow, policy.SpeedNormal, policy.SpeedFast}, f.speed) {
			return nil, fmt.Errorf("--speed %q: want slow, normal or fast", f.speed)
		}
		c.Metadata.Speed = f.speed
	}
	if fl.Changed("task") {
		c.Task = f.task
	}
	if fl.Changed("mistake") {
		m, err := strconv.ParseBool(f.mistake)
		if err != nil {
			return nil, fmt.Errorf("--mistake %q: want true or false", f.mistake)
		}
		c.Metadata.Mistake = &m
	}
	return &c, nil
}

func parseOpts(kvs []string) (policy.Options, error) {
	opts := policy.Options{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--opt %q: want key=value", kv)
		}
		opts[k] = v
	}
	return opts, nil
}

func optsLabel(kvs []string) string {
	if len(kvs) == 0 {
		return ""
	}
	return "(" + strings.Join(kvs, ",") + ")"
}

func closePolicy(p policy.Policy) {
	if c, ok := p.(io.Closer); ok {
		_ = c.Close()
	}
}

// trialFlags say how a policy is run in the simulator.
type trialFlags struct {
	seeds     int
	firstSeed int64
	execute   int
	maxSteps  int
	workers   int
}

func (f *trialFlags) register(cmd *cobra.Command) {
	sc := scenarios.PushT()
	cmd.Flags().IntVar(&f.seeds, "seeds", len(sc.TestSeeds), "number of episodes (consecutive legacy-reset seeds)")
	cmd.Flags().Int64Var(&f.firstSeed, "first-seed", sc.TestSeeds[0], "first seed (default: the standard PushT test seeds)")
	cmd.Flags().IntVar(&f.execute, "execute", 0, "actions executed per chunk before the policy is asked again (0: the policy's preference, else half the chunk)")
	cmd.Flags().IntVar(&f.maxSteps, "max-steps", sc.Horizon, "step limit per episode")
	cmd.Flags().IntVar(&f.workers, "workers", runtime.GOMAXPROCS(0), "episodes simulated and rendered in parallel")
}

func (f *trialFlags) config(steer *policy.Context) (trial.Config, error) {
	if f.seeds < 1 {
		return trial.Config{}, fmt.Errorf("--seeds must be at least 1, got %d", f.seeds)
	}
	if f.execute < 0 || f.maxSteps < 1 {
		return trial.Config{}, fmt.Errorf("--execute %d and --max-steps %d: want >= 0 and >= 1", f.execute, f.maxSteps)
	}
	return trial.Config{Seeds: scenarios.SeedRange(f.firstSeed, f.seeds), Execute: f.execute, MaxSteps: f.maxSteps, Workers: f.workers, Steer: steer}, nil
}

// judgeFlags choose a judge by name and options.
type judgeFlags struct {
	name string
	opts []string
}

func (f *judgeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.name, "judge", judge.PushTName, "judge: "+strings.Join(judge.Names(), ", "))
	cmd.Flags().StringArrayVar(&f.opts, "opt", nil, "judge option key=value (repeatable), e.g. --opt nats_url=nats://host:4222 --opt judge=vlm")
}

func (f *judgeFlags) options() (judge.Options, error) {
	opts := judge.Options{}
	if err := putOpts(opts, f.opts); err != nil {
		return nil, err
	}
	return opts, nil
}

// openZoo reads a zoo file, or the built-in zoo.
func openZoo(path string) (*zoo.Zoo, error) {
	if path == "" {
		return zoo.Default(), nil
	}
	return zoo.Load(path)
}

// registerWorkers registers the flags of local task workers.
func registerWorkers(cmd *cobra.Command, w *deploy.Workers, def int) {
	cmd.Flags().IntVar(&w.N, "workers", def, "task workers to run in this process (each runs one task at a time)")
	cmd.Flags().IntVar(&w.MaxAttempts, "max-attempts", 3, "tries per task before it is recorded as failed")
}

// registerNightly registers the flags of the nightly re-ranking, with
// those of its schedule where nights run on their own (serve).
func registerNightly(cmd *cobra.Command, n *deploy.Nightly, withSchedule bool) {
	fl := cmd.Flags()
	if withSchedule {
		fl.StringVar(&n.Cron, "nightly", schedule.DefaultSpec, "cron expression of the nightly re-ranking (UTC; \"\" disables)")
		fl.BoolVar(&n.FirstRun, "nightly-first-run", true, "when no night ever ran, run one at start (a first report within minutes)")
	}
	fl.IntVar(&n.Config.Episodes, "nightly-episodes", 10, "imagined episodes per zoo arm each night")
	fl.IntVar(&n.Config.RealBudget, "nightly-real", 10, "of those, real episodes per arm played by the fleet (the simulator when no robots), paired, for the agreement section (-1: none)")
	fl.IntVar(&n.Config.Previews, "nightly-previews", 4, "imagined-beside-real previews per report, failures first")
	fl.IntVar(&n.Config.Safety, "nightly-safety", 12, "imagined keep-out-zone episodes per arm for the safety section (-1: none)")
	fl.IntVar(&n.Config.SafetyReal, "nightly-safety-real", 6, "of those, real episodes per arm")
	fl.IntVar(&n.Config.SafetyHorizon, "nightly-safety-horizon", 120, "steps per keep-out-zone episode")
	fl.StringVar(&n.Backend, "nightly-backend", slots.Name, "world-model backend the arms are imagined in")
	fl.StringVar(&n.Checkpoint, "nightly-checkpoint", defaultSlotsCheckpoint, "its checkpoint")
	fl.StringVar(&n.Fidelity, "nightly-fidelity", "", "`FILE` written by wm eval --json, shown instead of evaluating the checkpoint; refused (and said so in the report) unless it records that checkpoint's identity")
	if !withSchedule {
		fl.StringVar(&n.Data, "data", "data", "data directory whose held-out episodes the checkpoint's fidelity is measured on (the human demonstrations are imported when it has none)")
	}
}

// defaultRobotsDir is where `dreamrank robot add` writes credentials and
// where the server reads the robots' public keys (--data/robots).
const defaultRobotsDir = "data/robots"

// registerFleet registers the flags of the fleet coordinator.
func registerFleet(cmd *cobra.Command, f *deploy.Fleet) {
	fl := cmd.Flags()
	fl.StringVar(&f.Robots, "robots", defaultRobotsDir, "directory of robot public keys (ID.pub.json from 'dreamrank robot add'); each may use only its own fleet subjects")
	fl.StringVar(&f.Episodes, "fleet-episodes", "data", "data directory of the episode store that uploaded fleet episodes land in, as every command's --data (empty: object store only)")
	fl.DurationVar(&f.Config.HeartbeatEvery, "fleet-heartbeat", time.Second, "robot heartbeat interval; 3 missed and the robot's episode is reassigned")
	fl.DurationVar(&f.Config.EpisodeTimeout, "fleet-episode-timeout", 10*time.Minute, "an assigned episode not reported in this time is reassigned")
}

// serverTLSFlags are an embedded server's TLS flags.
type serverTLSFlags struct{ t bus.ServerTLS }

func (f *serverTLSFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.t.Cert, "tls-cert", "", "the embedded NATS server's TLS certificate (PEM; 'dreamrank certs init' makes one): every network client must then speak TLS")
	fl.StringVar(&f.t.Key, "tls-key", "", "its private key")
	fl.StringVar(&f.t.ClientCA, "tls-client-ca", "", "require network clients to present a certificate signed by this CA (mutual TLS)")
}

// get is the TLS config, nil when no flag was given.
func (f *serverTLSFlags) get() *bus.ServerTLS {
	if f.t == (bus.ServerTLS{}) {
		return nil
	}
	return &f.t
}

// byteSize is a flag of bytes with an optional binary suffix (K, M, G, T).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "bytes" }
func (b *byteSize) Set(s string) error {
	mult := int64(1)
	t := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(s)), "B")
	t = strings.TrimSuffix(t, "I")
	for i, u := range []string{"K", "M", "G", "T"} {
		if strings.HasSuffix(t, u) {
			t, mult = strings.TrimSuffix(t, u), int64(1)<<(10*(i+1))
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q: want bytes, e.g. 500M or 20G", s)
	}
	*b = byteSize(n * mult)
	return nil
}
