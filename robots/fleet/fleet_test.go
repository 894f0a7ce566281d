package fleet_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/robots/fleet"
	"dreamrank/robots/fleet/fleettest"
	"dreamrank/robots/sim/simbot"
)

func TestPairedEpisodesInProcess(t *testing.T) {
	robots := []string{"r1", "r2"}
	f := fleettest.Start(t, robots, fleet.Config{})
	for _, id := range robots {
		fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, id), id, &simbot.Robot{}, nil)
	}
	reqs := append(fleettest.Pairs("job1", simbot.ScenePushT, []int64{1, 2, 3}, 15), fleettest.Pairs("job2", simbot.SceneSafety, []int64{7, 8}, 15)...)
	if err := f.Client.Request(fleettest.Ctx(t, 10*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	got := fleettest.Collect(t, f.Client, reqs, 60*time.Second)
	fleettest.CheckStored(t, f, reqs, got)
	// Paired: both robots ran the same arm and seed the same way, so the
	// outcome depends only on the request.
	for _, r := range reqs {
		if got[r.ID].Attempts != 1 {
			t.Fatalf("%s took %d attempts", r.ID, got[r.ID].Attempts)
		}
	}
	// The logs are in the object store, one per episode.
	js, _ := jetstream.New(f.Admin)
	obs, err := js.ObjectStore(fleettest.Ctx(t, 5*time.Second), fleet.LogBucket)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := obs.List(fleettest.Ctx(t, 5*time.Second))
	if err != nil || len(infos) != len(reqs) {
		t.Fatalf("%d logs in the object store, want %d (%v)", len(infos), len(reqs), err)
	}
	// Requesting the same ids again changes nothing.
	if err := f.Client.Request(fleettest.Ctx(t, 10*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	again := fleettest.Collect(t, f.Client, reqs, 10*time.Second)
	for id, r := range again {
		if r.EpisodeID != got[id].EpisodeID {
			t.Fatalf("%s: episode %s, then %s", id, got[id].EpisodeID, r.EpisodeID)
		}
	}
	time.Sleep(300 * time.Millisecond) // give a wrong re-run the time to show up
	if st := f.Coord.Status(); st.Done != len(reqs) || st.Queued != 0 || st.Running != 0 || len(st.Robots) != 2 {
		t.Fatalf("status %+v", st)
	}
	fleettest.CheckStored(t, f, reqs, got)
	st, err := fleet.FetchStatus(fleettest.Ctx(t, 5*time.Second), f.Admin)
	if err != nil || st.Done != len(reqs) || st.Throughput <= 0 {
		t.Fatalf("status over the bus: %+v, %v", st, err)
	}
}

func TestUnrunnableRequestFailsOnce(t *testing.T) {
	f := fleettest.Start(t, []string{"r1"}, fleet.Config{MaxAttempts: 2})
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "r1"), "r1", &simbot.Robot{}, nil)
	bad := fleettest.ArmGoal
	bad.Options = map[string]string{"x": "nope"}
	reqs := []fleet.EpisodeRequest{{ID: "bad", Arm: &bad, Scenario: simbot.ScenePushT, Seed: 1, MaxSteps: 5}}
	if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	got := fleettest.Collect(t, f.Client, reqs, 30*time.Second)["bad"]
	if got.Error == nil || got.Attempts != 2 || !errors.Is(got.Err(), errcode.BadRequest) {
		t.Fatalf("result %+v", got)
	}
	// A request no robot can serve (unknown scene) waits, it does not fail.
	if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), []fleet.EpisodeRequest{{ID: "mars", Arm: &fleettest.ArmGoal, Scenario: "mars", Seed: 1}}); err != nil {
		t.Fatal(err)
	}
	fleettest.WaitFor(t, 5*time.Second, "the mars request is queued", func() bool { return f.Coord.Status().Queued == 1 })
}

// TestHelperRobotProcess is not a test: TestRobotKilledMidEpisode runs the
// test binary as robot processes through it.
func TestHelperRobotProcess(t *testing.T) { fleettest.RobotProcess(t) }

func TestRobotKilledMidEpisode(t *testing.T) {
	robots := []string{"doomed", "r2", "r3", "r4"}
	f := fleettest.Start(t, robots, fleet.Config{})
	procs, started := fleettest.SpawnRobots(t, f, robots)
	fleettest.WaitFor(t, 30*time.Second, "4 robots registered", func() bool { return len(f.Coord.Status().Robots) == 4 })
	reqs := fleettest.Pairs("job", simbot.ScenePushT, []int64{11, 12, 13, 14, 15, 16}, 40)
	t0 := time.Now()
	if err := f.Client.Request(fleettest.Ctx(t, 10*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	killedReq := fleettest.KillOnStart(t, started, procs, "doomed", 30*time.Second)
	got := fleettest.Collect(t, f.Client, reqs, 90*time.Second)
	wall := time.Since(t0)
	fleettest.CheckStored(t, f, reqs, got)
	k := got[killedReq]
	if k.Robot == "doomed" || k.Attempts < 2 {
		t.Fatalf("the killed robot's episode: %+v", k)
	}
	for _, r := range got {
		if r.Robot == "doomed" {
			t.Fatalf("a result from the killed robot: %+v", r)
		}
	}
	fleettest.WaitFor(t, 5*time.Second, "doomed offline", func() bool {
		for _, r := range f.Coord.Status().Robots {
			if r.Robot == "doomed" {
				return r.State == fleet.StateOffline
			}
		}
		return false
	})
	t.Logf("%d paired episodes of 40 steps through 4 robot processes (one killed): %v, %.1f episodes/s", len(reqs), wall.Round(time.Millisecond), float64(len(reqs))/wall.Seconds())
}

// errs collects a connection's asynchronous errors (permission
// violations arrive that way).
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, err)
}

func (e *errs) has(substr string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.list {
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(substr)) {
			return true
		}
	}
	return false
}

func TestRobotPermissions(t *testing.T) {
	f := fleettest.Start(t, []string{"alice", "bob"}, fleet.Config{})
	var ae errs
	alice := fleettest.RobotConn(t, f.URL, f.Creds, "alice")
	alice.SetErrorHandler(ae.handler)
	// Alice's own subjects work, replies included.
	var rep fleet.RegisterReply
	if err := request(alice, fleet.RobotSubject("alice", fleet.VerbRegister), simbot.Register("alice"), &rep); err != nil || rep.Error != nil {
		t.Fatalf("alice registers: %v %+v", err, rep.Error)
	}
	// Bob's subjects as the coordinator sees them.
	seen := make(chan *nats.Msg, 10)
	spy, err := f.Admin.ChanSubscribe(fleet.RobotSubject("bob", ">"), seen)
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Unsubscribe()
	_ = f.Admin.Flush()

	t.Run("cannot report as bob", func(t *testing.T) {
		raw := []byte(`{"robot":"bob","assignment":"6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a","step":1,"max_steps":2}`)
		if err := alice.Publish(fleet.RobotSubject("bob", fleet.VerbProgress), raw); err != nil {
			t.Fatal(err)
		}
		var hb fleet.HeartbeatReply
		err := request(alice, fleet.RobotSubject("bob", fleet.VerbHeartbeat), fleet.Heartbeat{Robot: "bob", State: fleet.StateIdle}, &hb)
		if err == nil {
			t.Fatal("alice's heartbeat as bob was answered")
		}
		fleettest.WaitFor(t, 5*time.Second, "a publish permission violation", func() bool { return ae.has("permissions violation for publish") })
		select {
		case m := <-seen:
			t.Fatalf("alice's message reached bob's subject %s", m.Subject)
		case <-time.After(100 * time.Millisecond):
		}
	})
	t.Run("cannot read bob's assignments", func(t *testing.T) {
		got := make(chan *nats.Msg, 1)
		if _, err := alice.ChanSubscribe(fleet.RobotSubject("bob", fleet.VerbAssign), got); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.ChanSubscribe(fleet.RobotSubject("*", fleet.VerbAssign), got); err != nil {
			t.Fatal(err)
		}
		fleettest.WaitFor(t, 5*time.Second, "a subscription permission violation", func() bool { return ae.has("permissions violation for subscription") })
		if err := f.Admin.Publish(fleet.RobotSubject("bob", fleet.VerbAssign), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			t.Fatalf("alice read %s", m.Subject)
		case <-time.After(200 * time.Millisecond):
		}
	})
	t.Run("cannot use JetStream or the status", func(t *testing.T) {
		if _, err := fleet.FetchStatus(fleettest.Ctx(t, 300*time.Millisecond), alice); err == nil {
			t.Fatal("alice read the fleet status")
		}
		js, _ := jetstream.New(alice)
		if _, err := js.KeyValue(fleettest.Ctx(t, 300*time.Millisecond), fleet.ResultBucket); err == nil {
			t.Fatal("alice opened the result bucket")
		}
		c, _ := fleet.NewClient(alice)
		if err := c.Request(fleettest.Ctx(t, 300*time.Millisecond), fleettest.Pairs("x", simbot.ScenePushT, []int64{1}, 5)); err == nil {
			t.Fatal("alice requested episodes")
		}
	})
}

func TestBadCredentials(t *testing.T) {
	f := fleettest.Start(t, []string{"alice"}, fleet.Config{})
	other := t.TempDir()
	if _, err := fleet.AddRobot(other, "mallory"); err != nil { // never given to the server
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  bus.Config
	}{
		{"unknown nkey", bus.Config{Nkey: fleet.SeedPath(other, "mallory")}},
		{"missing seed file", bus.Config{Nkey: fleet.SeedPath(other, "nobody")}},
		{"wrong password", bus.Config{User: fleettest.AdminUser, Password: "guess"}},
		{"no credentials", bus.Config{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.URL = f.URL
			nc, err := bus.Connect(fleettest.Ctx(t, 5*time.Second), tt.cfg)
			if err == nil {
				nc.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, errcode.Unauthorized) || errcode.CodeOf(err) != errcode.Unauthorized {
				t.Fatalf("error %v, want unauthorized", err)
			}
			t.Log(err)
		})
	}
}
