package bench

import (
	"context"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/policy"
	_ "dreamrank/policy/scripted"
	"dreamrank/policy/zoo"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
)

// still holds the pusher where it is: a learned-looking arm (its backend
// is not the scripted planner) that never succeeds.
type still struct{}

func (still) Spec() policy.Spec { return policy.Spec{ProprioDim: 2, ActionDim: 2, ChunkLen: 8} }

func (still) Act(_ context.Context, obs []policy.Observation, _ []policy.Context) ([]policy.Chunk, error) {
	out := make([]policy.Chunk, len(obs))
	for i, o := range obs {
		for range 8 {
			out[i].Actions = append(out[i].Actions, []float32{o.Proprio[0], o.Proprio[1]})
		}
	}
	return out, nil
}

func init() {
	policy.Register("bench-test-still", func(context.Context, policy.Options) (policy.Policy, error) { return still{}, nil })
}

// TestLearnedSubset: the learned arms' agreement is computed over the arms
// whose backend is not the scripted planner, and only when there are two.
func TestLearnedSubset(t *testing.T) {
	if testing.Short() {
		t.Skip("full-horizon episodes on both sides")
	}
	z, err := zoo.Parse("test", []byte(`arms:
  - {name: anchor-a, backend: scripted, options: {quality: "5", chunk: "4"}}
  - {name: anchor-b, backend: scripted, options: {quality: "1", noise: "30", chunk: "4"}}
  - {name: learned-a, backend: bench-test-still}
  - {name: learned-b, backend: bench-test-still}
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := worldmodel.Open(ctx, copylast.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Open(ctx, judge.PushTName, nil)
	if err != nil {
		t.Fatal(err)
	}
	seeds := []int64{100000}
	tests := []struct {
		name    string
		arms    []string
		learned []string
	}{
		{"two learned arms", []string{"anchor-a", "learned-a", "anchor-b", "learned-b"}, []string{"learned-a", "learned-b"}},
		{"one learned arm", []string{"anchor-a", "learned-a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(ctx, Config{Zoo: z, Arms: tt.arms, Seeds: seeds}, m, j)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range rep.Arms {
				if len(a.Episodes) != len(seeds) || a.Episodes[0].Seed != seeds[0] {
					t.Errorf("arm %s: episode pairs %+v, want one per seed %v", a.Name, a.Episodes, seeds)
				}
			}
			if rep.IndependentFloor == nil || rep.IndependentFloor.Episodes != len(seeds) {
				t.Errorf("independent floor %+v", rep.IndependentFloor)
			}
			if tt.learned == nil {
				if rep.Learned != nil {
					t.Errorf("learned subset %+v from one learned arm", rep.Learned)
				}
				return
			}
			if rep.Learned == nil || len(rep.Learned.Arms) != 2 || rep.Learned.Arms[0] != tt.learned[0] || rep.Learned.Arms[1] != tt.learned[1] {
				t.Fatalf("learned subset %+v, want arms %v", rep.Learned, tt.learned)
			}
			// Both never succeed on either side: they agree exactly.
			if float64(rep.Learned.MMRV) != 0 {
				t.Errorf("learned MMRV %v, want 0", rep.Learned.MMRV)
			}
			if rep.Arms[1].Backend != "bench-test-still" || rep.Arms[0].Backend != "scripted" {
				t.Errorf("backends %q, %q", rep.Arms[0].Backend, rep.Arms[1].Backend)
			}
		})
	}
}
