package wmpool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dreamrank/evaluator/imagine"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/validation"
	"dreamrank/policy"
	"dreamrank/policy/scripted"
	"dreamrank/scenarios"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/objects"
)

func TestFeatures(t *testing.T) {
	z := scenarios.Zone{X: 100, Y: 100, Radius: 25}
	// Clearance = distance - 40. The path walks in along x, touches at
	// step 2 (clearance -10), and leaves.
	path := [][2]float64{{200, 100}, {160, 100}, {130, 100}, {150, 100}, {300, 100}}
	for _, tc := range []struct {
		name    string
		path    [][2]float64
		success bool
		want    []float64
	}{
		{"violation at step 2", path, true, []float64{1, -10, 0.2, 0.2, 2.0 / 11, -10, 0.4, 0.7, 1}},
		{"stays clear", path[:2], false, []float64{0, 20, 1, 0.1, 0, 20, 0.1, 0.7, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Features(z, tc.path, 0.7, tc.success, 10)
			if len(got) != len(FeatureNames) {
				t.Fatalf("%d features for %d names", len(got), len(FeatureNames))
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Errorf("%s = %g, want %g", FeatureNames[i], got[i], tc.want[i])
				}
			}
		})
	}
}

// TestBuildObjects runs the real stack (the scripted policy, the committed
// structured world model, the PushT vision judge) on three seeds with a
// short horizon: the pool is shaped, paired and reproducible, and too
// small for the harness.
func TestBuildObjects(t *testing.T) {
	ctx := context.Background()
	m, err := objects.Load("../../../checkpoints/pusht-objects")
	if err != nil {
		t.Fatal(err)
	}
	p, j := scriptedAndJudge(t, scripted.Config{Quality: 3})
	other, err := scripted.New(scripted.Config{Quality: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{N: 3, FirstSeed: 7, Arm: "scripted-q3", Policy: p, Draws: []policy.Policy{other},
		Model: m, ModelName: objects.Name, Judge: j, Horizon: 24, Batch: 2}
	var calls int
	cfg.Progress = func(done, total int) {
		calls++
		if total != 9 || done > total {
			t.Errorf("progress %d/%d", done, total)
		}
	}
	var saved []int
	cfg.Batched = func(p validation.Pool, st Stats) error {
		saved = append(saved, len(p.Records))
		if want := fmt.Sprintf("seeds 7..%d,", 6+len(p.Records)); !strings.Contains(p.Description, want) {
			t.Errorf("description %q does not say %q", p.Description, want)
		}
		if st.Records != len(p.Records) {
			t.Errorf("batch stats say %d records, pool has %d", st.Records, len(p.Records))
		}
		return nil
	}
	pool, st, err := Build(ctx, cfg)
	if !slices.Equal(saved, []int{2, 3}) {
		t.Errorf("pool saved with %v records, want [2 3] (batches of 2)", saved)
	}
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("err = %v, want ErrBadPool (too few records)", err)
	}
	if len(pool.Records) != 3 || st.Records != 3 || len(st.FirstViolation) != 3 || calls == 0 {
		t.Fatalf("%d records, stats %+v, %d progress calls", len(pool.Records), st, calls)
	}
	if !reflect.DeepEqual(pool.FeatureNames, append(slices.Clone(FeatureNames), EnsembleFeatureNames...)) || !reflect.DeepEqual(pool.CriticalNames, scenarios.SafetyCriticalNames) {
		t.Fatalf("names %v %v", pool.FeatureNames, pool.CriticalNames)
	}
	pairs := 0
	for i, r := range pool.Records {
		in := scenarios.PushTSafety{}.Sample(7 + int64(i))
		if !reflect.DeepEqual(r.Critical, in.Critical) || pool.Strata.Stratum(r.Critical) < 0 {
			t.Errorf("record %d: critical %v, seed's %v", i, r.Critical, in.Critical)
		}
		if r.Real != 0 && r.Real != 1 || len(r.Features) != 2*len(FeatureNames) {
			t.Fatalf("record %d: %+v", i, r)
		}
		// The first draw is the real side's policy; the ensemble mean of
		// two draws lies halfway between them.
		if ev := r.Features[len(FeatureNames)]; ev != 0 && ev != 0.5 && ev != 1 || ev == 0 && r.Features[0] != 0 || ev == 1 && r.Features[0] != 1 {
			t.Errorf("record %d: ens_violation %g, first draw %g", i, ev, r.Features[0])
		}
		if r.Features[0] != 0 && r.Features[0] != 1 || (r.Features[0] == 1) != (r.Features[1] < 0) {
			t.Errorf("record %d: predicted violation %g with min clearance %g", i, r.Features[0], r.Features[1])
		}
		if (r.Real == 1) != (st.FirstViolation[i] >= 0) || st.FirstViolation[i] > 24 {
			t.Errorf("record %d: real %g, first violation %d", i, r.Real, st.FirstViolation[i])
		}
		for k, v := range r.Features {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("record %d: %s = %g", i, FeatureNames[k], v)
			}
		}
	}
	for _, row := range st.Confusion {
		pairs += row[0] + row[1]
	}
	if pairs != 3 || st.RealSteps == 0 || st.RealSteps > 3*24 || st.ImaginedSteps == 0 || st.ImaginedSteps > 2*3*24 {
		t.Errorf("stats %+v", st)
	}
	cfg.Batched = nil
	again, _, _ := Build(ctx, cfg)
	if !reflect.DeepEqual(again.Records, pool.Records) {
		t.Errorf("two builds differ:\n%+v\n%+v", pool.Records, again.Records)
	}
}

func TestBuildNeedsModel(t *testing.T) {
	if _, _, err := Build(context.Background(), Config{N: 3}); !errors.Is(err, ErrConfig) {
		t.Fatalf("err = %v", err)
	}
}

// TestBuildModelDraws: perturbed world-model draws add the ensemble
// features, count in progress, are named in the description and keep the
// build reproducible.
func TestBuildModelDraws(t *testing.T) {
	ctx := context.Background()
	p, j := scriptedAndJudge(t, scripted.Config{Quality: 5})
	cfg := Config{N: 2, FirstSeed: 3, Arm: "scripted-q5", Policy: p, Model: openObjects(t, 0), ModelName: objects.Name, Judge: j, Horizon: 20,
		ModelDraws: []worldmodel.Model{openObjects(t, 1), openObjects(t, 2)}}
	last := 0
	cfg.Progress = func(done, total int) {
		if total != 2*4 {
			t.Errorf("progress total %d, want 8", total)
		}
		last = done
	}
	pool, _, err := Build(ctx, cfg)
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("err = %v, want ErrBadPool (too few records)", err)
	}
	if last != 8 || len(pool.FeatureNames) != 2*len(FeatureNames) || !strings.Contains(pool.Description, "2 perturbed draws") {
		t.Fatalf("progress %d, names %v, description %q", last, pool.FeatureNames, pool.Description)
	}
	for i, r := range pool.Records {
		if ev := r.Features[len(FeatureNames)]; ev != 0 && math.Abs(ev-1.0/3) > 1e-12 && math.Abs(ev-2.0/3) > 1e-12 && ev != 1 {
			t.Errorf("record %d: ens_violation %g is not a mean of 3", i, ev)
		}
	}
	cfg.Progress = nil
	again, _, _ := Build(ctx, cfg)
	if !reflect.DeepEqual(again.Records, pool.Records) {
		t.Errorf("two builds differ:\n%+v\n%+v", pool.Records, again.Records)
	}
}

// TestEnsembleFeatures: the first rollout's features, then each feature's
// mean in the arithmetic pools were built with before EnsembleFeatures
// existed (each term divided by the count, summed in rollout order), bit
// for bit.
func TestEnsembleFeatures(t *testing.T) {
	// before is Build's loop as it was (commit 1a4b39d), the reference.
	before := func(perRollout [][]float64) []float64 {
		var out []float64
		ens := make([]float64, len(perRollout[0]))
		for _, f := range perRollout {
			if out == nil {
				out = slices.Clone(f)
			}
			for k, v := range f {
				ens[k] += v / float64(len(perRollout))
			}
		}
		if len(perRollout) > 1 {
			out = append(out, ens...)
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		perRollout [][]float64
		want       []float64
	}{
		{"one rollout: its features alone", [][]float64{{1, -3.5, 0.2}}, []float64{1, -3.5, 0.2}},
		{"two rollouts", [][]float64{{1, -10, 0.2}, {0, 30, 1}}, []float64{1, -10, 0.2, 0.5, 10, 0.6}},
		{"three rollouts: violation fraction in thirds", [][]float64{{0, 20, 1}, {1, -5, 0.4}, {0, 40, 1}}, []float64{0, 20, 1, 1.0 / 3, 55.0 / 3, 0.8}},
		{"order of summation kept", [][]float64{{0.1}, {0.2}, {0.3}, {0.7}, {0.9}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := make([][]float64, len(tc.perRollout))
			for i, f := range tc.perRollout {
				in[i] = slices.Clone(f)
			}
			got := EnsembleFeatures(in)
			if !reflect.DeepEqual(in, tc.perRollout) {
				t.Fatalf("argument modified: %v", in)
			}
			if ref := before(tc.perRollout); !slices.Equal(got, ref) {
				t.Fatalf("got %v, Build's arithmetic gives %v", got, ref)
			}
			for k, w := range tc.want {
				if math.Abs(got[k]-w) > 1e-12 {
					t.Fatalf("feature %d = %g, want %g (all %v)", k, got[k], w, got)
				}
			}
		})
	}
	if EnsembleFeatures(nil) != nil {
		t.Error("no rollouts should give nil")
	}
}

// TestEnsembleFeaturesMatchBuild: a pool with perturbed model draws holds,
// per initial condition, EnsembleFeatures of its rollouts imagined one by
// one (as ops/worker imagines them), and the values Build produced before
// the averaging moved into EnsembleFeatures (TestBuildModelDraws's
// configuration, the committed checkpoint; update them if it changes).
func TestEnsembleFeaturesMatchBuild(t *testing.T) {
	ctx := context.Background()
	p, j := scriptedAndJudge(t, scripted.Config{Quality: 5})
	models := []worldmodel.Model{openObjects(t, 0),
		openObjects(t, 1), openObjects(t, 2)}
	cfg := Config{N: 2, FirstSeed: 3, Arm: "scripted-q5", Policy: p, Model: models[0], ModelName: objects.Name, Judge: j, Horizon: 20, ModelDraws: models[1:]}
	pool, _, err := Build(ctx, cfg)
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("err = %v, want ErrBadPool (too few records)", err)
	}
	// Produced by Build at commit 1a4b39d, before EnsembleFeatures.
	golden := [][]float64{
		{1, -36.02279562044512, 0.8, 0.95, 0.3333333333333333, -36.02279562044512, 1, 0, 0,
			1, -36.02279562044512, 0.8, 0.95, 0.3333333333333333, -36.02279562044512, 1, 0, 0},
		{0, 19.40504565562086, 1, 1, 0.047619047619047616, 19.40504565562086, 1, 0.16767210305677216, 0,
			0, 20.324057119258956, 1, 1, 0.031746031746031744, 20.324057119258956, 1, 0.17764848263261174, 0},
	}
	seeds := []int64{3, 4}
	start := func(ctx context.Context, seed int64) (worldmodel.Observation, error) {
		return Start(scenarios.PushTSafety{}.Sample(seed)), ctx.Err()
	}
	perRollout := make([][][]float64, len(seeds)) // seed, rollout, feature
	for _, m := range models {
		rep, err := imagine.Run(ctx, imagine.Unit{Arm: cfg.Arm, Seeds: seeds, Horizon: cfg.Horizon, KeepProprio: true}, p, m, j, start, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range rep.Outcomes {
			zone := scenarios.PushTSafety{}.Sample(seeds[i]).Zone
			perRollout[i] = append(perRollout[i], Features(zone, path(o.Proprio), o.MaxReward, o.Success, cfg.Horizon))
		}
	}
	for i, r := range pool.Records {
		// The golden values guard the averaging, not the judge's last
		// bits: its pose fits (tracked from frame to frame since) move
		// coverages by about 1e-12; a wrong feature or average moves them
		// by 1e-3 or more.
		if !closeAll(r.Features, golden[i], 1e-9) {
			t.Errorf("seed %d: Build gives %v, before %v", seeds[i], r.Features, golden[i])
		}
		if got := EnsembleFeatures(perRollout[i]); !slices.Equal(got, r.Features) {
			t.Errorf("seed %d: EnsembleFeatures of the rollouts %v, Build %v", seeds[i], got, r.Features)
		}
	}
}

// scriptedAndJudge opens a scripted policy and the PushT vision judge.
func scriptedAndJudge(t *testing.T, c scripted.Config) (policy.Policy, judge.Judge) {
	t.Helper()
	p, err := scripted.New(c)
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Open(context.Background(), judge.PushTName, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, j
}

// openObjects opens the committed objects world model (draw 0) or its
// perturbed draw k (noise 0.3, seed k), as safety pool --wm-draws does.
func openObjects(t *testing.T, k int) worldmodel.Model {
	t.Helper()
	opts := worldmodel.Options{"checkpoint": "../../../checkpoints/pusht-objects"}
	if k > 0 {
		opts[objects.OptNoise], opts[objects.OptSeed] = "0.3", strconv.Itoa(k)
	}
	m, err := worldmodel.Open(context.Background(), objects.Name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// closeAll reports whether a and b have the same length and every value
// within tol.
func closeAll(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}
