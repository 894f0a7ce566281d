package fleetlink_test

import (
	"testing"
	"time"

	"dreamrank/ops/fleetlink"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
	"dreamrank/robots/fleet/fleettest"
	"dreamrank/robots/sim/simbot"
)

// An evaluation job with a real budget: the server imagines (fake runner)
// and asks the fleet for the paired real episodes, which 4 robot processes
// play; one is SIGKILLed mid-episode. Every requested episode arrives once,
// is stored once, and the job's calibration counts each once.
func TestJobRealBudgetThroughFleet(t *testing.T) {
	robots := []string{"doomed", "r2", "r3", "r4"}
	f := fleettest.Start(t, robots, fleet.Config{})
	z := &zoo.Zoo{Arms: []zoo.Arm{fleettest.ArmGoal, fleettest.ArmCorner}}
	cat := job.Catalog{Zoo: z, PolicyBackends: []string{"fleettest"}, ModelBackends: []string{"fake"}, Judges: []string{job.DefaultJudge},
		Scenarios: []job.ScenarioInfo{{Name: simbot.ScenePushT, FirstSeed: 21, Horizon: 40, DefaultEpisodes: 6}}}
	servertest.Server(t, f.Admin, server.Config{Catalog: cat, Real: fleetlink.Real{Client: f.Client, MaxSteps: 40}})
	servertest.Workers(t, f.Admin, 2, &servertest.Runner{}, worker.Config{})

	procs, started := fleettest.SpawnRobots(t, f, robots)
	fleettest.WaitFor(t, 30*time.Second, "4 robots registered", func() bool { return len(f.Coord.Status().Robots) == 4 })

	c := jobapi.Client{NC: f.Admin}
	spec := job.Spec{Version: job.SpecVersion, WorldModel: job.ModelRef{Backend: "fake"}, Episodes: 6, RealBudget: 6,
		Policies: []job.PolicyRef{{Arm: fleettest.ArmGoal.Name}, {Arm: fleettest.ArmCorner.Name}}}
	rep, err := c.Submit(fleettest.Ctx(t, 10*time.Second), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	killedReq := fleettest.KillOnStart(t, started, procs, "doomed", 60*time.Second)
	st := servertest.Wait(t, c, rep.ID, 2*time.Minute)
	if st.State != job.Succeeded {
		t.Fatalf("job %+v", st)
	}
	cal := st.Result.Scenarios[0].Calibration
	if cal == nil || len(cal.Real) != 2 || len(cal.Estimates) != 2 {
		t.Fatalf("calibration %+v", cal)
	}
	for _, r := range cal.Real {
		if len(r.Seeds) != 6 || r.Source != "fleet" {
			t.Fatalf("real episodes of %s: %+v", r.Arm, r)
		}
	}
	reqs := fleet.Paired(rep.ID, z.Arms, simbot.ScenePushT, []int64{21, 22, 23, 24, 25, 26}, 40)
	got := fleettest.Collect(t, f.Client, reqs, 10*time.Second)
	fleettest.CheckStored(t, f, reqs, got)
	if k, ok := got[killedReq]; !ok || k.Robot == "doomed" || k.Attempts < 2 {
		t.Fatalf("the killed robot's episode %s: %+v", killedReq, k)
	}
}

// TestHelperRobotProcess is not a test: TestJobRealBudgetThroughFleet runs
// the test binary as robot processes through it.
func TestHelperRobotProcess(t *testing.T) { fleettest.RobotProcess(t) }
