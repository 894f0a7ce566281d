package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"dreamrank/evaluator/bench"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation/wmpool"
	_ "dreamrank/ops/backends"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
	"dreamrank/policy/expert"
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

// A safety task with world-model draws: per seed the model's own features
// (as a task without draws gives them) and their means over the model and
// the draws; the episodes are the model's own.
func TestImaginedSafetyDraws(t *testing.T) {
	if testing.Short() {
		t.Skip("imagined rollouts in the committed world model")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	arm, err := zoo.Default().Arm("scripted-q5")
	if err != nil {
		t.Fatal(err)
	}
	run := worker.NewImagined()
	defer run.Close()
	task := func(draws int) job.Task {
		wm := job.ModelRef{Backend: objects.Name, Options: map[string]string{"checkpoint": objectsCheckpoint}}
		if draws > 0 {
			noise := 0.3
			wm.Draws, wm.DrawNoise = draws, &noise
		}
		// Two seeds the model predicts to violate within 40 steps, where
		// some draws do not (ens_violation 2/3 and 1/3 with the committed
		// checkpoint).
		return job.Task{Job: "j", Arm: arm, Scenario: scenarios.PushTSafetyName, Seeds: []int64{worker.SafetySeed + 10, worker.SafetySeed + 14},
			Horizon: 40, WorldModel: wm, Judge: job.DefaultJudge}
	}
	one, err := run.Run(ctx, task(0))
	if err != nil {
		t.Fatal(err)
	}
	ens, err := run.Run(ctx, task(2))
	if err != nil {
		t.Fatal(err)
	}
	nf := len(wmpool.FeatureNames)
	if len(ens.Episodes) != 2 || len(ens.Features) != 2 || len(ens.Critical) != 2 || len(ens.Media) != 1 {
		t.Fatalf("outcome: %d episodes, %d features, %d critical, %d videos", len(ens.Episodes), len(ens.Features), len(ens.Critical), len(ens.Media))
	}
	if !reflect.DeepEqual(ens.Episodes, one.Episodes) || !reflect.DeepEqual(ens.Critical, one.Critical) || ens.Media[0].Name != one.Media[0].Name {
		t.Fatal("the draws changed the reported episodes, critical variables or video")
	}
	perturbed := false
	for i, f := range ens.Features {
		if len(f) != 2*nf {
			t.Fatalf("seed %d: %d features, want %d", i, len(f), 2*nf)
		}
		if !slices.Equal(f[:nf], one.Features[i]) {
			t.Errorf("seed %d: the model's features %v, without draws %v", i, f[:nf], one.Features[i])
		}
		if v := 3 * f[nf]; math.Abs(v-math.Round(v)) > 1e-9 || v < 0 || v > 3 {
			t.Errorf("seed %d: ens_violation %g is not a fraction of 3 rollouts", i, f[nf])
		}
		for k, v := range f {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("seed %d: feature %d = %g", i, k, v)
			}
		}
		perturbed = perturbed || !slices.Equal(f[:nf], f[nf:])
		t.Logf("seed %d: pred_violation %g, ens_violation %g, pred/ens min clearance %.1f / %.1f", i, f[0], f[nf], f[1], f[nf+1])
	}
	if !perturbed {
		t.Error("every mean equals the model's own features: the draws were not perturbed")
	}
	// The draws' models are opened once per runner: the same task again
	// gives the same features.
	again, err := run.Run(ctx, task(2))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Features, ens.Features) {
		t.Fatalf("the same task twice: %v and %v", ens.Features, again.Features)
	}
}

// DrawRef adds the draw's noise and seed to a copy of the job's options,
// under the keys the backend declared, and refuses a backend without draws.
func TestDrawRef(t *testing.T) {
	noise := 0.25
	ref := job.ModelRef{Backend: objects.Name, Options: map[string]string{"checkpoint": "c"}, Draws: 3, DrawNoise: &noise}
	got, err := worker.DrawRef(ref, 2)
	want := map[string]string{"checkpoint": "c", objects.OptNoise: "0.25", objects.OptSeed: "2"}
	if err != nil || got.Backend != objects.Name || !reflect.DeepEqual(got.Options, want) || got.Draws != 0 || len(ref.Options) != 1 {
		t.Fatalf("draw %+v, %v from %+v", got, err, ref)
	}
	if d, err := worker.DrawRef(job.ModelRef{Backend: objects.Name, Draws: 1}, 1); err != nil || d.Options[objects.OptNoise] != "0.3" || d.Options[objects.OptSeed] != "1" {
		t.Fatalf("default noise: %+v, %v", d, err)
	}
	if _, err := worker.DrawRef(job.ModelRef{Backend: "x", Draws: 1}, 1); !errors.Is(err, worldmodel.ErrNoDraws) {
		t.Fatalf("backend without draws: %v, want ErrNoDraws", err)
	}
}

// The committed example specs are valid for this build's catalogue, and
// the one with draws gets the ensemble features on its safety scenario.
func TestExamplesPrepare(t *testing.T) {
	tests := []struct {
		file      string
		wantDraws int
	}{
		{"ranking.yaml", 0},
		{"safety.yaml", 0},
		{"safety-draws.yaml", 3},
		{"python/ranking.yaml", 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile("../../examples/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			s, err := job.Parse(raw, job.DefaultLimits().MaxSpecBytes)
			if err != nil {
				t.Fatal(err)
			}
			p, err := job.Prepare(s, worker.Catalog(zoo.Default()), job.DefaultLimits(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			info := p.Scenarios[0]
			nf := len(wmpool.FeatureNames)
			if info.Draws != tc.wantDraws || tc.wantDraws > 0 && (len(info.FeatureNames) != 2*nf || !slices.Equal(info.FeatureNames[nf:], wmpool.EnsembleFeatureNames)) {
				t.Fatalf("scenario %s: %d draws, features %v", info.Name, info.Draws, info.FeatureNames)
			}
		})
	}
}
