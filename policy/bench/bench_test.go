package bench

import (
	"context"
	"testing"
	"time"

	"dreamrank/policy"
)

// sleeper takes a fixed time per call plus a time per observation.
type sleeper struct{ perCall, perObs time.Duration }

func (s sleeper) Spec() policy.Spec { return policy.Spec{ActionDim: 2, ChunkLen: 4} }

func (s sleeper) Act(_ context.Context, obs []policy.Observation, _ []policy.Context) ([]policy.Chunk, error) {
	time.Sleep(s.perCall + time.Duration(len(obs))*s.perObs)
	out := make([]policy.Chunk, len(obs))
	for i := range out {
		out[i].Actions = make([][]float32, 4)
		for k := range out[i].Actions {
			out[i].Actions[k] = []float32{0, 0}
		}
	}
	return out, nil
}

func TestRun(t *testing.T) {
	// A fixed per-call cost makes bigger batches pay: the best batch is the
	// largest.
	rep, err := Run(context.Background(), sleeper{perCall: 4 * time.Millisecond, perObs: 100 * time.Microsecond},
		Config{Batches: []int{1, 4}, LatencyCalls: 5, Duration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.ChunkLen != 4 || rep.LatencyCalls != 5 || rep.LatencyMsMedian < 4 || rep.LatencyMsP90 < rep.LatencyMsMedian {
		t.Errorf("latency %+v", rep)
	}
	if len(rep.Batches) != 2 || rep.BestBatch != 4 || rep.ChunksPerSecBest < 1.5*rep.Batches[0].ChunksPerSec {
		t.Errorf("throughput %+v", rep)
	}
	if _, err := Run(context.Background(), sleeper{}, Config{Batches: []int{0}}); err == nil {
		t.Error("batch 0 accepted")
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	if quantile(xs, 0.5) != 6 || quantile(xs, 0.9) != 10 || quantile(xs[:1], 0.9) != 1 {
		t.Errorf("quantiles %v %v", quantile(xs, 0.5), quantile(xs, 0.9))
	}
}
