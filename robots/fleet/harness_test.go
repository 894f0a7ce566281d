package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/episode"
	"dreamrank/policy"
	"dreamrank/policy/zoo"
	"dreamrank/robots/agent"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
)

// The "fleettest" policy backend moves the pusher towards option x, y in
// chunks of 8: cheap and deterministic, so tests spend their time on the
// fleet, not on planning.
func init() {
	policy.Register("fleettest", func(_ context.Context, o policy.Options) (policy.Policy, error) {
		x, err1 := strconv.ParseFloat(o["x"], 32)
		y, err2 := strconv.ParseFloat(o["y"], 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: fleettest needs x and y", policy.ErrBadInput)
		}
		return towards{float32(x), float32(y)}, nil
	})
}

type towards struct{ x, y float32 }

func (towards) Spec() policy.Spec { return policy.Spec{ActionDim: 2, ChunkLen: 8} }
func (p towards) Act(_ context.Context, obs []policy.Observation, _ []policy.Context) ([]policy.Chunk, error) {
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		for k := range 8 {
			f := float32(k+1) / 8
			out[i].Actions = append(out[i].Actions, []float32{o.Proprio[0] + f*(p.x-o.Proprio[0]), o.Proprio[1] + f*(p.y-o.Proprio[1])})
		}
	}
	return out, nil
}

// Two test arms: one heads for the goal, one for a corner.
var (
	armGoal   = zoo.Arm{Name: "to-goal", Backend: "fleettest", Options: map[string]string{"x": "256", "y": "256"}}
	armCorner = zoo.Arm{Name: "to-corner", Backend: "fleettest", Options: map[string]string{"x": "60", "y": "60"},
		Context: &zoo.Steering{Speed: "fast"}}
)

// pairs requests both arms on every seed (paired episodes) in scenario.
func pairs(group, scenario string, seeds []int64, maxSteps int) []fleet.EpisodeRequest {
	var out []fleet.EpisodeRequest
	for _, s := range seeds {
		for _, a := range []zoo.Arm{armGoal, armCorner} {
			out = append(out, fleet.EpisodeRequest{ID: fmt.Sprintf("%s-%s-%s-%d", group, scenario, a.Name, s), Group: group,
				Arm: &a, Scenario: scenario, Seed: s, MaxSteps: maxSteps})
		}
	}
	return out
}

func ids(reqs []fleet.EpisodeRequest) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.ID
	}
	return out
}

const adminUser, adminPassword = "coordinator", "s3cret"

// testFleet is an embedded NATS server with per-robot nkey logins, a
// coordinator on the admin login and an episode store.
type testFleet struct {
	url    string
	creds  string // robots' credentials directory
	admin  *nats.Conn
	store  *episode.Store
	coord  *fleet.Coordinator
	client *fleet.Client
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func startFleet(t testing.TB, robots []string, cfg fleet.Config) *testFleet {
	t.Helper()
	dir := t.TempDir()
	f := &testFleet{creds: filepath.Join(dir, "robots")}
	for _, id := range robots {
		if _, err := fleet.AddRobot(f.creds, id); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := fleet.LoadRobots(f.creds)
	if err != nil || len(loaded) != len(robots) {
		t.Fatalf("loaded %d robots, %v", len(loaded), err)
	}
	e, err := bus.StartEmbedded(ctxT(t, 10*time.Second), bus.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"),
		User: adminUser, Password: adminPassword, Users: fleet.Users(loaded)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	f.url = e.URL()
	f.admin, err = bus.Connect(ctxT(t, 5*time.Second), bus.Config{URL: f.url, User: adminUser, Password: adminPassword, Name: "coordinator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.admin.Close)
	if f.store, err = episode.Open(filepath.Join(dir, "episodes")); err != nil {
		t.Fatal(err)
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = 100 * time.Millisecond
	}
	cfg.Episodes = f.store
	if f.coord, err = fleet.Start(ctxT(t, 10*time.Second), f.admin, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.coord.Stop)
	if f.client, err = fleet.NewClient(f.admin); err != nil {
		t.Fatal(err)
	}
	return f
}

// robotConn connects as robot id with its nkey.
func robotConn(t testing.TB, url, creds, id string) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(ctxT(t, 5*time.Second), bus.Config{URL: url, Nkey: fleet.SeedPath(creds, id), InboxPrefix: fleet.InboxPrefix(id), Name: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// runRobot runs a simulated robot's agent in this process until the test
// ends.
func runRobot(t testing.TB, nc *nats.Conn, id string, r *simbot.Robot, onAssign func(fleet.Assignment)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = agent.Run(ctx, nc, agent.Config{Robot: simbot.Register(id), Runner: r, OnAssign: onAssign, ProgressEvery: 50 * time.Millisecond})
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// collect reads every result of reqs, failing on a duplicate or a missing
// one, and returns them by request id.
func collect(t testing.TB, c *fleet.Client, reqs []fleet.EpisodeRequest, d time.Duration) map[string]fleet.Result {
	t.Helper()
	ch, err := c.Results(ctxT(t, d), ids(reqs))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]fleet.Result{}
	for r := range ch {
		if _, dup := got[r.Request]; dup {
			t.Fatalf("result of %s delivered twice", r.Request)
		}
		got[r.Request] = r
	}
	if len(got) != len(reqs) {
		t.Fatalf("%d of %d results after %v", len(got), len(reqs), d)
	}
	return got
}

// checkStored checks that every result is a stored fleet episode with its
// provenance, and that the store holds exactly these episodes.
func checkStored(t testing.TB, f *testFleet, reqs []fleet.EpisodeRequest, got map[string]fleet.Result) {
	t.Helper()
	for _, r := range reqs {
		res := got[r.ID]
		if res.Error != nil || res.EpisodeID == "" || res.Steps <= 0 {
			t.Fatalf("result %+v", res)
		}
		m, err := f.store.GetMeta(res.EpisodeID)
		if err != nil {
			t.Fatal(err)
		}
		p := m.Provenance
		if m.Source != "fleet" || m.RobotID != res.Robot || m.Policy != r.Arm.Name || m.Scenario != r.Scenario || m.Seed == nil || *m.Seed != r.Seed ||
			p == nil || p.Assignment != res.EpisodeID || p.Request != r.ID || p.Embodiment != simbot.Embodiment || p.PolicyBackend != "fleettest" ||
			p.Received.IsZero() || m.Steps != res.Steps || m.Outcome == nil || m.Outcome.Success != res.Success {
			t.Fatalf("episode %s meta %+v provenance %+v for result %+v", res.EpisodeID, m, p, res)
		}
		if (r.Scenario == simbot.SceneSafety) != (res.Violated != nil) {
			t.Fatalf("result %+v: violated set %v in scenario %s", res, res.Violated != nil, r.Scenario)
		}
	}
	all, err := f.store.List(context.Background(), episode.Filter{Source: "fleet"})
	if err != nil || len(all) != len(reqs) {
		t.Fatalf("store holds %d fleet episodes, want %d (%v)", len(all), len(reqs), err)
	}
}

// request sends v to subject on nc and decodes the reply into out.
func request(nc *nats.Conn, subject string, v, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg, err := nc.Request(subject, raw, 500*time.Millisecond)
	if err != nil {
		return err
	}
	return json.Unmarshal(msg.Data, out)
}

// spawnRobots starts each robot as its own process (the test binary
// running TestHelperRobotProcess); started receives "STARTED <id> <request>"
// as each robot starts its first episode. The processes die with the test.
func spawnRobots(t *testing.T, f *testFleet, robots []string) (map[string]*exec.Cmd, <-chan string) {
	t.Helper()
	started := make(chan string, 64)
	procs := map[string]*exec.Cmd{}
	for _, id := range robots {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRobotProcess$", "-test.timeout=3m")
		cmd.Env = append(os.Environ(), "DREAMRANK_TEST_ROBOT_URL="+f.url, "DREAMRANK_TEST_ROBOT_ID="+id, "DREAMRANK_TEST_ROBOT_CREDS="+f.creds)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[id] = cmd
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "STARTED ") {
					started <- sc.Text()
				}
			}
		}()
	}
	return procs, started
}

// killOnStart SIGKILLs robot id as soon as it starts an episode, and
// returns that episode's request.
func killOnStart(t *testing.T, started <-chan string, procs map[string]*exec.Cmd, id string, wait time.Duration) string {
	t.Helper()
	for {
		select {
		case line := <-started:
			var who, req string
			if _, err := fmt.Sscanf(line, "STARTED %s %s", &who, &req); err != nil {
				t.Fatalf("line %q", line)
			}
			if who == id {
				if err := procs[id].Process.Kill(); err != nil { // mid-episode: no outcome, no upload
					t.Fatal(err)
				}
				return req
			}
		case <-time.After(wait):
			t.Fatalf("robot %s never started an episode", id)
		}
	}
}
