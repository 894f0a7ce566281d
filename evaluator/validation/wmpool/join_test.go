package wmpool

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dreamrank/evaluator/validation"
	"dreamrank/policy/scripted"
	"dreamrank/worldmodel/objects"
)

// TestJoinEqualsOneBuild checks that two builds with disjoint perturbed
// draws, joined, give the features of one build with all the draws, and
// that builds over other seeds are concatenated in seed order.
func TestJoinEqualsOneBuild(t *testing.T) {
	ctx := context.Background()
	p, j := scriptedAndJudge(t, scripted.Config{Quality: 5})
	build := func(first int64, n int, seeds ...int) validation.Pool {
		t.Helper()
		cfg := Config{N: n, FirstSeed: first, Arm: "scripted-q5", Policy: p, Model: openObjects(t, 0), ModelName: objects.Name, Judge: j, Horizon: 20, DrawSeeds: seeds}
		for _, s := range seeds {
			cfg.ModelDraws = append(cfg.ModelDraws, openObjects(t, s))
		}
		pool, _, err := Build(ctx, cfg)
		if !errors.Is(err, validation.ErrBadPool) { // too few records for the harness
			t.Fatalf("build: %v", err)
		}
		return pool
	}
	all := build(3, 2, 1, 2, 3)
	if got, want := builtBy(all.Description), "policy scripted-q5, horizon 20, world model "+objects.Name; got != want {
		t.Fatalf("a build's description names %q, want %q", got, want)
	}
	a, b := build(3, 2, 1), build(3, 2, 2, 3)
	joined, err := Join(b, a)
	if !errors.Is(err, validation.ErrBadPool) {
		t.Fatalf("join: %v", err)
	}
	if !slices.Equal(joined.Seeds, []int64{3, 4}) || !slices.Equal(joined.DrawSeeds, []int{1, 2, 3}) {
		t.Fatalf("seeds %v, draw seeds %v", joined.Seeds, joined.DrawSeeds)
	}
	for i, r := range joined.Records {
		for k, v := range r.Features {
			if w := all.Records[i].Features[k]; math.Abs(v-w) > 1e-12 {
				t.Errorf("record %d feature %s: joined %g, one build %g", i, joined.FeatureNames[k], v, w)
			}
		}
	}
	// Another build's own rollout of the model is taken out of its means,
	// whatever it is.
	moved := build(3, 2, 2, 3)
	for i := range moved.Records {
		for k := range FeatureNames {
			moved.Records[i].Features[k] += 0.5
			moved.Records[i].Features[len(FeatureNames)+k] += 0.5 / 3
		}
	}
	if again, _ := Join(a, moved); !reflect.DeepEqual(roundAll(again.Records), roundAll(joined.Records)) {
		t.Errorf("joined with another own rollout:\n%+v\nwant\n%+v", again.Records, joined.Records)
	}
	// Other seeds with the same draws are concatenated in seed order.
	later := build(5, 1, 1, 2, 3)
	cat, _ := Join(later, all)
	if !slices.Equal(cat.Seeds, []int64{3, 4, 5}) || !slices.Equal(cat.Records[2].Features, later.Records[0].Features) {
		t.Errorf("concatenated seeds %v", cat.Seeds)
	}
}

func TestJoinRefuses(t *testing.T) {
	names := append(slices.Clone(FeatureNames), EnsembleFeatureNames...)
	pool := func(seeds []int64, draws []int, critical float64) validation.Pool {
		p := validation.Pool{FeatureNames: names, Seeds: seeds, DrawSeeds: draws}
		for range seeds {
			p.Records = append(p.Records, validation.Record{Critical: []float64{1, 2, 3, critical}, Features: make([]float64, len(names))})
		}
		return p
	}
	described := func(p validation.Pool, arm string, horizon int, model string) validation.Pool {
		p.Description = fmt.Sprintf("PushT keep-out-zone scenario, seeds 1..1, policy %s on both sides, closed loop, horizon %d steps: "+
			"real = reference simulator; imagined = world model %s from the same real first frame", arm, horizon, model)
		return p
	}
	single := validation.Pool{FeatureNames: FeatureNames, Seeds: []int64{1}, Records: []validation.Record{{Features: make([]float64, len(FeatureNames))}}}
	tests := []struct {
		name  string
		pools []validation.Pool
	}{
		{"no pools", nil},
		{"no seeds", []validation.Pool{{FeatureNames: names, Records: []validation.Record{{}}, DrawSeeds: []int{1}}}},
		{"no draw seeds", []validation.Pool{pool([]int64{1}, nil, 0)}},
		{"same draw twice", []validation.Pool{pool([]int64{1}, []int{1, 2}, 0), pool([]int64{1}, []int{2}, 0)}},
		{"other scenario", []validation.Pool{pool([]int64{1}, []int{1}, 0), pool([]int64{1}, []int{2}, 1)}},
		{"other policy", []validation.Pool{described(pool([]int64{1}, []int{1}, 0), "flow-q5", 300, "objects"), described(pool([]int64{1}, []int{2}, 0), "flow-q4", 300, "objects")}},
		{"other horizon", []validation.Pool{described(pool([]int64{1}, []int{1}, 0), "flow-q5", 300, "objects"), described(pool([]int64{1}, []int{2}, 0), "flow-q5", 200, "objects")}},
		{"other world model", []validation.Pool{described(pool([]int64{1}, []int{1}, 0), "flow-q5", 300, "objects"), described(pool([]int64{1}, []int{2}, 0), "flow-q5", 300, "builtin")}},
		{"other features", []validation.Pool{pool([]int64{1}, []int{1}, 0), single}},
		{"same seed without ensembles", []validation.Pool{single, single}},
		{"seeds with different draws", []validation.Pool{pool([]int64{1}, []int{1}, 0), pool([]int64{2}, []int{2}, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Join(tc.pools...); !errors.Is(err, ErrJoin) {
				t.Errorf("err = %v, want ErrJoin", err)
			}
		})
	}
}

// TestJoinKeepsFirstRealOutcome: pools of a network policy built on other
// CPUs or in other batches may disagree on a seed's real outcome (issue
// 17); the join keeps the first pool's and says so, instead of refusing.
func TestJoinKeepsFirstRealOutcome(t *testing.T) {
	names := append(slices.Clone(FeatureNames), EnsembleFeatureNames...)
	pool := func(draw int, real ...float64) validation.Pool {
		p := validation.Pool{Description: "d", FeatureNames: names, DrawSeeds: []int{draw}}
		for i, r := range real {
			p.Seeds = append(p.Seeds, int64(i))
			p.Records = append(p.Records, validation.Record{Critical: []float64{1, 2, 3, float64(i)}, Real: r, Features: make([]float64, len(names))})
		}
		return p
	}
	tests := []struct {
		name     string
		a, b     validation.Pool
		want     []float64
		describe string
	}{
		{"agree", pool(1, 0, 1, 1), pool(2, 0, 1, 1), []float64{0, 1, 1}, ""},
		{"one differs", pool(1, 0, 1, 1), pool(2, 0, 0, 1), []float64{0, 1, 1}, "differed between pools for 1 seeds"},
		{"the other way", pool(2, 1, 0, 0), pool(1, 0, 0, 1), []float64{1, 0, 0}, "differed between pools for 2 seeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			joined, _ := Join(tc.a, tc.b)
			var got []float64
			for _, r := range joined.Records {
				got = append(got, r.Real)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("real outcomes %v, want %v", got, tc.want)
			}
			if says := strings.Contains(joined.Description, "real outcome differed"); says != (tc.describe != "") || !strings.Contains(joined.Description, tc.describe) {
				t.Errorf("description %q, want it to say %q", joined.Description, tc.describe)
			}
		})
	}
}

// roundAll rounds features to 1e-9, for comparing sums taken in another order.
func roundAll(rs []validation.Record) [][]float64 {
	var out [][]float64
	for _, r := range rs {
		f := make([]float64, len(r.Features))
		for k, v := range r.Features {
			f[k] = math.Round(v*1e9) / 1e9
		}
		out = append(out, f)
	}
	return out
}
