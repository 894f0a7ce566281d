package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
	"dreamrank/policy/zoo"
)

// JetStream resources of the fleet.
const (
	RequestStream = "DREAMRANK_FLEET_REQUESTS"
	UploadStream  = "DREAMRANK_FLEET_UPLOADS"
	ResultBucket  = "dreamrank_fleet_results"
	LogBucket     = "dreamrank_fleet_logs"
	// CoordinatorConsumer is the durable consumer the coordinator takes
	// requests with.
	CoordinatorConsumer = "fleet-coordinator"
	// DupWindow is how long a repeated request id is dropped on publish;
	// after it, the stored result still makes a repeat a no-op.
	DupWindow = 30 * time.Minute
)

// EpisodeRequest asks the fleet for one real episode.
type EpisodeRequest struct {
	// ID makes the request idempotent: requesting the same id again does
	// nothing, and its result is recorded once. [A-Za-z0-9_-]{1,128}.
	ID string `json:"id"`
	// Group (a job id, say) is the unit of fairness: when robots are
	// scarce, groups take turns.
	Group string `json:"group,omitempty"`
	// Arm is the policy (a zoo arm: backend, options, steering); or OpenPI
	// an openpi endpoint the robot acts from, with OpenPIOptions (its
	// observation layout, PolicySpec).
	Arm           *zoo.Arm          `json:"arm,omitempty"`
	OpenPI        string            `json:"openpi,omitempty"`
	OpenPIOptions map[string]string `json:"openpi_options,omitempty"`
	Scenario      string            `json:"scenario"`
	Seed          int64             `json:"seed"`
	// MaxSteps caps the episode (0: the scenario's horizon).
	MaxSteps int `json:"max_steps,omitempty"`
}

// Policy is the request's policy as assignments carry it.
func (r EpisodeRequest) Policy() PolicySpec {
	return PolicySpec{Arm: r.Arm, OpenPI: r.OpenPI, OpenPIOptions: r.OpenPIOptions}
}

// Validate checks a request before it is queued.
func (r EpisodeRequest) Validate() error {
	if !tokenRE.MatchString(r.ID) {
		return badf("request id %q, want [A-Za-z0-9_-]{1,128}", r.ID)
	}
	if err := r.Policy().validate(); err != nil {
		return fmt.Errorf("request %s: %w", r.ID, err)
	}
	if r.Scenario == "" || r.MaxSteps < 0 {
		return badf("request %s: scenario %q, max steps %d", r.ID, r.Scenario, r.MaxSteps)
	}
	return nil
}

// Result is a requested episode's result, recorded exactly once.
type Result struct {
	Request  string `json:"request"`
	Group    string `json:"group,omitempty"`
	Policy   string `json:"policy"`
	Scenario string `json:"scenario"`
	Seed     int64  `json:"seed"`
	EpisodeResult
	// EpisodeID is the stored episode (also the assignment id).
	EpisodeID  string `json:"episode_id,omitempty"`
	Robot      string `json:"robot,omitempty"`
	Assignment string `json:"assignment,omitempty"`
	// Attempts counts assignments made for the request (reassignments
	// after a robot went silent or overran included).
	Attempts int `json:"attempts"`
	// Error is set when no robot could run the episode after every
	// attempt.
	Error    *errcode.Error `json:"error,omitempty"`
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
}

// Err is the result's error, if any.
func (r Result) Err() error { return ErrOf(r.Error) }

// Client requests episodes from the fleet and reads their results. It
// needs only JetStream (the coordinator may run in another process).
type Client struct {
	js jetstream.JetStream
}

// NewClient returns a client on nc.
func NewClient(nc *nats.Conn) (*Client, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	return &Client{js: js}, nil
}

// Request queues episode requests. Ids already requested (or done) are not
// queued twice. All requests are checked before any is queued.
func (c *Client) Request(ctx context.Context, reqs []EpisodeRequest) error {
	for _, r := range reqs {
		if err := r.Validate(); err != nil {
			return err
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(reqs))
	for _, r := range reqs {
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		f, err := c.js.PublishMsgAsync(&nats.Msg{Subject: RequestSubject(r.ID), Data: raw}, jetstream.WithMsgID(r.ID))
		if err != nil {
			return fmt.Errorf("fleet: request %s: %w", r.ID, err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
				return fmt.Errorf("fleet: request %s: %w (is a coordinator running?): %w", reqs[i].ID, errcode.Unavailable, err)
			}
			return fmt.Errorf("fleet: request %s: %w", reqs[i].ID, err)
		case <-ctx.Done():
			return fmt.Errorf("fleet: request: %w", ctx.Err())
		}
	}
	return nil
}

func (c *Client) results(ctx context.Context) (jetstream.KeyValue, error) {
	kv, err := c.js.KeyValue(ctx, ResultBucket)
	if err != nil {
		return nil, fmt.Errorf("fleet: results (is a coordinator running?): %w", err)
	}
	return kv, nil
}

// Result returns request id's result, and whether it is in yet.
func (c *Client) Result(ctx context.Context, id string) (Result, bool, error) {
	kv, err := c.results(ctx)
	if err != nil {
		return Result{}, false, err
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("fleet: result %s: %w", id, err)
	}
	var r Result
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return Result{}, false, fmt.Errorf("fleet: result %s: %w", id, err)
	}
	return r, true, nil
}

// Results delivers the result of each of ids once, as they arrive (those
// already in first), and closes the channel when all have arrived or ctx
// ends.
func (c *Client) Results(ctx context.Context, ids []string) (<-chan Result, error) {
	kv, err := c.results(ctx)
	if err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		if !tokenRE.MatchString(id) {
			return nil, badf("request id %q", id)
		}
		want[id] = true
	}
	wctx, cancel := context.WithCancel(ctx)
	var w jetstream.KeyWatcher
	if len(want) <= 64 {
		keys := make([]string, 0, len(want))
		for id := range want {
			keys = append(keys, id)
		}
		w, err = kv.WatchFiltered(wctx, keys)
	} else {
		w, err = kv.WatchAll(wctx)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fleet: watch results: %w", err)
	}
	out := make(chan Result, len(want))
	go func() {
		defer close(out)
		defer cancel()
		defer w.Stop()
		for len(want) > 0 {
			var e jetstream.KeyValueEntry
			select {
			case e = <-w.Updates():
			case <-ctx.Done():
				return
			}
			if e == nil || !want[e.Key()] || e.Operation() != jetstream.KeyValuePut {
				continue
			}
			var r Result
			if json.Unmarshal(e.Value(), &r) != nil {
				continue
			}
			delete(want, e.Key())
			out <- r
		}
	}()
	return out, nil
}

// Wait returns the results of ids in their order, waiting until all are
// in or ctx ends.
func (c *Client) Wait(ctx context.Context, ids []string) ([]Result, error) {
	ch, err := c.Results(ctx, ids)
	if err != nil {
		return nil, err
	}
	got := make(map[string]Result, len(ids))
	for r := range ch {
		got[r.Request] = r
	}
	out := make([]Result, len(ids))
	for i, id := range ids {
		r, ok := got[id]
		if !ok {
			return nil, fmt.Errorf("fleet: %d of %d results in: %w", len(got), len(ids), context.Cause(ctx))
		}
		out[i] = r
	}
	return out, nil
}

// Paired builds the requests for paired episodes: every arm on every seed
// of scenario, so the arms are compared on the same initial conditions.
// Ids are <group>-<arm>-<scenario>-<seed> (PairedID), so asking again for
// the same pairs is idempotent.
func Paired(group string, arms []zoo.Arm, scenario string, seeds []int64, maxSteps int) []EpisodeRequest {
	out := make([]EpisodeRequest, 0, len(arms)*len(seeds))
	for _, s := range seeds {
		for _, a := range arms {
			out = append(out, EpisodeRequest{ID: PairedID(group, a.Name, scenario, s), Group: group,
				Arm: &a, Scenario: scenario, Seed: s, MaxSteps: maxSteps})
		}
	}
	return out
}

// PairedID is the request id Paired gives arm's episode on seed:
// <group>-<arm>-<scenario>-<seed> when that is a valid id, else (names with
// dots, say, or too long) a readable prefix and a hash of the four.
func PairedID(group, arm, scenario string, seed int64) string {
	id := fmt.Sprintf("%s-%s-%s-%d", group, arm, scenario, seed)
	if tokenRE.MatchString(id) {
		return id
	}
	clean := []rune{}
	for _, r := range id {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			clean = append(clean, r)
		} else {
			clean = append(clean, '_')
		}
	}
	prefix := string(clean[:min(len(clean), 100)])
	return prefix + "-" + SHA256([]byte(fmt.Sprintf("%q %q %q %d", group, arm, scenario, seed)))[:16]
}
