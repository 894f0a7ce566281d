package fleet_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
	"dreamrank/robots/fleet/fleettest"
	"dreamrank/robots/sim/simbot"
	"dreamrank/scenarios"
)

// TestFairAcrossGroups: with one robot, a group that queued first does not
// starve one that queued later; the groups take turns.
func TestFairAcrossGroups(t *testing.T) {
	f := fleettest.Start(t, []string{"solo"}, fleet.Config{})
	big := fleet.Paired("big", []zoo.Arm{fleettest.ArmGoal}, simbot.ScenePushT, []int64{1, 2, 3, 4}, 3)
	small := fleet.Paired("small", []zoo.Arm{fleettest.ArmGoal}, simbot.ScenePushT, []int64{1, 2}, 3)
	for _, reqs := range [][]fleet.EpisodeRequest{big, small} {
		if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), reqs); err != nil {
			t.Fatal(err)
		}
	}
	fleettest.WaitFor(t, 5*time.Second, "6 requests queued", func() bool { return f.Coord.Status().Queued == 6 })
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "solo"), "solo", &simbot.Robot{}, nil)
	got := fleettest.Collect(t, f.Client, append(big, small...), 30*time.Second)
	var order []fleet.Result
	for _, r := range got {
		order = append(order, r)
	}
	slices.SortFunc(order, func(a, b fleet.Result) int { return a.Finished.Compare(b.Finished) })
	var groups []string
	for _, r := range order {
		groups = append(groups, r.Group)
	}
	if want := []string{"big", "small", "big", "small", "big", "big"}; !slices.Equal(groups, want) {
		t.Fatalf("groups ran in order %v, want %v", groups, want)
	}
}

// TestOverrunReassigned: a robot that does not finish in time loses the
// episode to another robot, and the result arrives once.
func TestOverrunReassigned(t *testing.T) {
	f := fleettest.Start(t, []string{"slow", "fast"}, fleet.Config{EpisodeTimeout: time.Second})
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "slow"), "slow", &simbot.Robot{StepDelay: time.Hour}, nil)
	fleettest.WaitFor(t, 5*time.Second, "slow registered", func() bool { return len(f.Coord.Status().Robots) == 1 })
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "fast"), "fast", &simbot.Robot{}, nil)
	fleettest.WaitFor(t, 5*time.Second, "fast registered", func() bool { return len(f.Coord.Status().Robots) == 2 })
	reqs := fleet.Paired("job", []zoo.Arm{fleettest.ArmGoal}, simbot.ScenePushT, []int64{5}, 4)
	if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	got := fleettest.Collect(t, f.Client, reqs, 20*time.Second)[reqs[0].ID]
	if got.Robot != "fast" || got.Attempts != 2 || got.Error != nil {
		t.Fatalf("result %+v, want the fast robot's on the second attempt", got)
	}
	fleettest.CheckStored(t, f, reqs, map[string]fleet.Result{reqs[0].ID: got})
}

// TestSafetyReal answers safety.Episodes' Real from the fleet and agrees
// with the robot's own judgement of the zone.
func TestSafetyReal(t *testing.T) {
	f := fleettest.Start(t, []string{"r1"}, fleet.Config{})
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "r1"), "r1", &simbot.Robot{}, nil)
	z := &zoo.Zoo{Arms: []zoo.Arm{fleettest.ArmGoal, fleettest.ArmCorner}}
	s := fleet.Safety{Client: f.Client, Zoo: z, Group: "safety-job", MaxSteps: 20}
	for _, seed := range []int64{21, 22} {
		in := scenarios.PushTSafety{}.Sample(seed)
		for _, arm := range []string{fleettest.ArmGoal.Name, fleettest.ArmCorner.Name} {
			y, err := s.Real(fleettest.Ctx(t, 20*time.Second), arm, in)
			if err != nil {
				t.Fatal(err)
			}
			r, ok, err := f.Client.Result(context.Background(), fleet.PairedID("safety-job", arm, fleet.SafetyScenario, seed))
			if err != nil || !ok || r.Violated == nil || (y == 1) != *r.Violated {
				t.Fatalf("%s seed %d: Real %v, result %+v %v", arm, seed, y, r, err)
			}
		}
	}
}

// TestCoordinatorRestart: requests queued under one coordinator are served
// by the next one.
func TestCoordinatorRestart(t *testing.T) {
	// A request the stopped coordinator hands back can still reach its
	// last, dead pull request and then returns only after the ack wait
	// (about 1 in 10 runs under load): keep that short here.
	f := fleettest.Start(t, []string{"r1"}, fleet.Config{AckWait: 2 * time.Second})
	reqs := fleet.Paired("job", []zoo.Arm{fleettest.ArmGoal, fleettest.ArmCorner}, simbot.ScenePushT, []int64{1, 2}, 3)
	if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	fleettest.WaitFor(t, 5*time.Second, "4 requests queued", func() bool { return f.Coord.Status().Queued == 4 })
	f.Coord.Stop()
	c2, err := fleet.Start(fleettest.Ctx(t, 10*time.Second), f.Admin, fleet.Config{HeartbeatEvery: 100 * time.Millisecond, Episodes: f.Store, AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c2.Stop)
	fleettest.RunRobot(t, fleettest.RobotConn(t, f.URL, f.Creds, "r1"), "r1", &simbot.Robot{}, nil)
	got := fleettest.Collect(t, c2.Client, reqs, 20*time.Second)
	fleettest.CheckStored(t, f, reqs, got)
}
