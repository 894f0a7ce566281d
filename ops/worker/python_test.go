package worker_test

import (
	"context"
	"testing"
	"time"

	"dreamrank/foundation/peer/peertest"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/expert"
	"dreamrank/policy/zoo"
)

// A job whose world model and judge are the Python examples, joined over
// websocket without NATS (examples/python), runs on an embedded server with
// a worker and ranks its arms: the whole path a team's PyTorch model takes.
func TestJobWithPythonPeers(t *testing.T) {
	wm := peertest.Start(t, "../../examples/python/worldmodel_server.py", "--port", "0")
	jd := peertest.Start(t, "../../examples/python/judge_server.py", "--port", "0")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{Catalog: worker.Catalog(zoo.Default()), Queue: queue.Config{AckWait: 30 * time.Second}})
	run := worker.NewImagined()
	defer run.Close()
	servertest.Workers(t, nc, 1, run, worker.Config{})

	arms := []string{"scripted-q5", "scripted-q1-noise30"}
	spec := job.Spec{Version: job.SpecVersion, Seeds: expert.TestSeeds()[:2], Horizon: 48,
		WorldModel: job.ModelRef{Backend: "websocket", Options: map[string]string{"url": wm.URL}},
		Judge:      "websocket", JudgeOption: map[string]string{"url": jd.URL}}
	for _, a := range arms {
		spec.Policies = append(spec.Policies, job.PolicyRef{Arm: a})
	}
	c := jobapi.Client{NC: nc}
	rep, err := c.Submit(ctx, spec, "")
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Wait(t, c, rep.ID, 90*time.Second)
	if st.State != job.Succeeded || len(st.Result.FailedTasks) > 0 {
		t.Fatalf("job %+v", st)
	}
	sr := st.Result.Scenarios[0]
	if len(sr.Ranking.Arms) != len(arms) || len(sr.Ranking.Order) != len(arms) {
		t.Fatalf("ranking %+v", sr.Ranking)
	}
	mean := make([]float64, len(arms))
	for i, a := range arms {
		ep, ok := sr.Arm(a)
		if !ok || len(ep.MaxReward) != len(spec.Seeds) {
			t.Fatalf("arm %s: episodes %+v", a, ep)
		}
		for _, r := range ep.MaxReward {
			mean[i] += r / float64(len(ep.MaxReward))
		}
		t.Logf("%s: success %v, max reward %.3f", a, ep.Success, ep.MaxReward)
	}
	// The toy model lets the expert push the block nearer the goal than
	// the noisy arm: the policies are told apart.
	if !(mean[0] > mean[1]) || sr.Ranking.Order[0] != 0 {
		t.Fatalf("mean max rewards %v, order %v: want %s ranked first", mean, sr.Ranking.Order, arms[0])
	}
}
