package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"dreamrank/evaluator/bench"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation/wmpool"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/expert"
	_ "dreamrank/policy/scripted"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/objects"
)

const objectsCheckpoint = "../../checkpoints/pusht-objects"

// A job's ranking equals what `dreamrank bench ranking` predicts for the
// same arms and seeds: the server path adds distribution, not a different
// evaluation.
func TestJobMatchesBenchRanking(t *testing.T) {
	if testing.Short() {
		t.Skip("imagined rollouts in the committed world model")
	}
	arms := []string{"scripted-q3", "scripted-q1-noise20"}
	seeds := expert.TestSeeds()[:3]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	m, err := worldmodel.Open(ctx, objects.Name, worldmodel.Options{"checkpoint": objectsCheckpoint})
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Open(ctx, judge.PushTName, nil)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := bench.Run(ctx, bench.Config{Arms: arms, Seeds: seeds}, m, j)
	if err != nil {
		t.Fatal(err)
	}

	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	srv := servertest.Server(t, nc, server.Config{Catalog: worker.Catalog(zoo.Default()), Queue: queue.Config{AckWait: 30 * time.Second}})
	run := worker.NewImagined()
	defer run.Close()
	servertest.Workers(t, nc, 1, run, worker.Config{})
	spec := job.Spec{Version: job.SpecVersion, Seeds: seeds,
		WorldModel: job.ModelRef{Backend: objects.Name, Options: map[string]string{"checkpoint": objectsCheckpoint}}}
	for _, a := range arms {
		spec.Policies = append(spec.Policies, job.PolicyRef{Arm: a})
	}
	c := jobapi.Client{NC: nc}
	rep, err := c.Submit(ctx, spec, "")
	if err != nil {
		t.Fatal(err)
	}
	st := servertest.Wait(t, c, rep.ID, 4*time.Minute)
	if st.State != job.Succeeded {
		t.Fatalf("job %+v", st)
	}
	got, _ := json.Marshal(st.Result.Scenarios[0].Ranking)
	want, _ := json.Marshal(direct.PredictedRanking)
	if string(got) != string(want) {
		t.Fatalf("job ranking differs from bench ranking:\njob   %s\nbench %s", got, want)
	}
	// Each task stored a video of its first imagined episode.
	if len(st.Result.Artifacts) != 2 {
		t.Fatalf("artifacts %v, want one video per task", st.Result.Artifacts)
	}
	for _, name := range st.Result.Artifacts {
		raw, err := srv.Resources().Artifacts.GetBytes(ctx, name)
		if err != nil || !bytes.HasPrefix(raw, []byte("GIF8")) {
			t.Fatalf("artifact %s: %d bytes, %v", name, len(raw), err)
		}
	}
	t.Logf("predicted success: %s %.2f, %s %.2f", direct.Arms[0].Name, direct.Arms[0].Predicted.SuccessRate,
		direct.Arms[1].Name, direct.Arms[1].Predicted.SuccessRate)
}

// Imagined episodes of the safety scenario carry their critical variables
// and the world model's safety features, read from the imagined path.
func TestImaginedSafetyFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("imagined rollouts in the committed world model")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arm, err := zoo.Default().Arm("scripted-q3")
	if err != nil {
		t.Fatal(err)
	}
	run := worker.NewImagined()
	defer run.Close()
	o, err := run.Run(ctx, job.Task{Job: "j", Arm: arm, Scenario: scenarios.PushTSafetyName, Seeds: []int64{worker.SafetySeed, worker.SafetySeed + 1},
		Horizon: 40, WorldModel: job.ModelRef{Backend: objects.Name, Options: map[string]string{"checkpoint": objectsCheckpoint}}, Judge: job.DefaultJudge})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Episodes) != 2 || len(o.Critical) != 2 || len(o.Features) != 2 {
		t.Fatalf("outcome: %d episodes, %d critical, %d features", len(o.Episodes), len(o.Critical), len(o.Features))
	}
	for i, f := range o.Features {
		if len(f) != len(wmpool.FeatureNames) || (f[0] != 0 && f[0] != 1) || len(o.Critical[i]) != len(scenarios.SafetyCriticalNames) {
			t.Fatalf("episode %d: features %v, critical %v", i, f, o.Critical[i])
		}
	}
}
