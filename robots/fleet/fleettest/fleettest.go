// Package fleettest runs a robot fleet for tests: an embedded NATS server
// with one nkey login per robot, a coordinator with an episode store,
// simulated robots in process or as their own processes, and checks that
// every requested episode arrived and was stored once.
package fleettest

import (
	"bufio"
	"context"
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
	ArmGoal   = zoo.Arm{Name: "to-goal", Backend: "fleettest", Options: map[string]string{"x": "256", "y": "256"}}
	ArmCorner = zoo.Arm{Name: "to-corner", Backend: "fleettest", Options: map[string]string{"x": "60", "y": "60"},
		Context: &zoo.Steering{Speed: "fast"}}
)

// Pairs requests both arms on every seed (paired episodes) in scenario.
func Pairs(group, scenario string, seeds []int64, maxSteps int) []fleet.EpisodeRequest {
	var out []fleet.EpisodeRequest
	for _, s := range seeds {
		for _, a := range []zoo.Arm{ArmGoal, ArmCorner} {
			out = append(out, fleet.EpisodeRequest{ID: fmt.Sprintf("%s-%s-%s-%d", group, scenario, a.Name, s), Group: group,
				Arm: &a, Scenario: scenario, Seed: s, MaxSteps: maxSteps})
		}
	}
	return out
}

// IDs are the requests' ids.
func IDs(reqs []fleet.EpisodeRequest) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.ID
	}
	return out
}

// AdminUser and AdminPassword are the coordinator's login.
const AdminUser, AdminPassword = "coordinator", "s3cret"

// Fleet is an embedded NATS server with per-robot nkey logins, a
// coordinator on the admin login and an episode store.
type Fleet struct {
	URL    string
	Creds  string // robots' credentials directory
	Admin  *nats.Conn
	Store  *episode.Store
	Coord  *fleet.Coordinator
	Client *fleet.Client
}

// Ctx is a context that ends after d or with the test.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Start starts an embedded server with logins for robots and a coordinator
// with cfg (heartbeats every 100ms unless set, the fleet's episode store);
// all stop with the test.
func Start(t testing.TB, robots []string, cfg fleet.Config) *Fleet {
	t.Helper()
	dir := t.TempDir()
	f := &Fleet{Creds: filepath.Join(dir, "robots")}
	for _, id := range robots {
		if _, err := fleet.AddRobot(f.Creds, id); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := fleet.LoadRobots(f.Creds)
	if err != nil || len(loaded) != len(robots) {
		t.Fatalf("loaded %d robots, %v", len(loaded), err)
	}
	e, err := bus.StartEmbedded(Ctx(t, 10*time.Second), bus.EmbeddedConfig{StoreDir: filepath.Join(dir, "nats"),
		User: AdminUser, Password: AdminPassword, Users: fleet.Users(loaded)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	f.URL = e.URL()
	f.Admin, err = bus.Connect(Ctx(t, 5*time.Second), bus.Config{URL: f.URL, User: AdminUser, Password: AdminPassword, Name: "coordinator"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Admin.Close)
	if f.Store, err = episode.Open(filepath.Join(dir, "episodes")); err != nil {
		t.Fatal(err)
	}
	if cfg.HeartbeatEvery == 0 {
		cfg.HeartbeatEvery = 100 * time.Millisecond
	}
	cfg.Episodes = f.Store
	if f.Coord, err = fleet.Start(Ctx(t, 10*time.Second), f.Admin, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Coord.Stop)
	if f.Client, err = fleet.NewClient(f.Admin); err != nil {
		t.Fatal(err)
	}
	return f
}

// RobotConn connects as robot id with its nkey.
func RobotConn(t testing.TB, url, creds, id string) *nats.Conn {
	t.Helper()
	nc, err := bus.Connect(Ctx(t, 5*time.Second), bus.Config{URL: url, Nkey: fleet.SeedPath(creds, id), InboxPrefix: fleet.InboxPrefix(id), Name: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// RunRobot runs a simulated robot's agent in this process until the test
// ends.
func RunRobot(t testing.TB, nc *nats.Conn, id string, r *simbot.Robot, onAssign func(fleet.Assignment)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = agent.Run(ctx, nc, agent.Config{Robot: simbot.Register(id), Runner: r, OnAssign: onAssign, ProgressEvery: 50 * time.Millisecond})
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })
}

// WaitFor polls cond until it holds or d passes.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Collect reads every result of reqs, failing on a duplicate or a missing
// one, and returns them by request id.
func Collect(t testing.TB, c *fleet.Client, reqs []fleet.EpisodeRequest, d time.Duration) map[string]fleet.Result {
	t.Helper()
	ch, err := c.Results(Ctx(t, d), IDs(reqs))
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

// CheckStored checks that every result is a stored fleet episode with its
// provenance, and that the store holds exactly these episodes.
func CheckStored(t testing.TB, f *Fleet, reqs []fleet.EpisodeRequest, got map[string]fleet.Result) {
	t.Helper()
	for _, r := range reqs {
		res := got[r.ID]
		if res.Error != nil || res.EpisodeID == "" || res.Steps <= 0 {
			t.Fatalf("result %+v", res)
		}
		m, err := f.Store.GetMeta(res.EpisodeID)
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
	all, err := f.Store.List(context.Background(), episode.Filter{Source: "fleet"})
	if err != nil || len(all) != len(reqs) {
		t.Fatalf("store holds %d fleet episodes, want %d (%v)", len(all), len(reqs), err)
	}
}

// SpawnRobots starts each robot as its own process (the test binary
// running TestHelperRobotProcess, which must call RobotProcess); started receives "STARTED <id> <request>"
// as each robot starts its first episode. The processes die with the test.
func SpawnRobots(t *testing.T, f *Fleet, robots []string) (map[string]*exec.Cmd, <-chan string) {
	t.Helper()
	started := make(chan string, 64)
	procs := map[string]*exec.Cmd{}
	for _, id := range robots {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperRobotProcess$", "-test.timeout=3m")
		cmd.Env = append(os.Environ(), "DREAMRANK_TEST_ROBOT_URL="+f.URL, "DREAMRANK_TEST_ROBOT_ID="+id, "DREAMRANK_TEST_ROBOT_CREDS="+f.Creds)
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

// KillOnStart SIGKILLs robot id as soon as it starts an episode, and
// returns that episode's request.
func KillOnStart(t *testing.T, started <-chan string, procs map[string]*exec.Cmd, id string, wait time.Duration) string {
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

// RobotProcess is the body of a test package's TestHelperRobotProcess: in a
// process SpawnRobots started it runs that robot until the process is
// killed, printing "STARTED <id> <request>" on its first assignment; in any
// other it skips.
func RobotProcess(t *testing.T) {
	url := os.Getenv("DREAMRANK_TEST_ROBOT_URL")
	if url == "" {
		t.Skip("helper process for SpawnRobots")
	}
	id, creds := os.Getenv("DREAMRANK_TEST_ROBOT_ID"), os.Getenv("DREAMRANK_TEST_ROBOT_CREDS")
	nc, err := bus.Connect(context.Background(), bus.Config{URL: url, Nkey: fleet.SeedPath(creds, id), InboxPrefix: fleet.InboxPrefix(id), Name: id})
	if err != nil {
		t.Fatal(err)
	}
	r := &simbot.Robot{StepDelay: 15 * time.Millisecond}
	var once sync.Once
	RunRobot(t, nc, id, r, func(a fleet.Assignment) {
		once.Do(func() { fmt.Printf("STARTED %s %s\n", id, a.Request) })
	})
	select {}
}
