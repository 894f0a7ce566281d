package loadgen

import (
	"context"
	"testing"
	"time"
)

func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Tasks: 50, Workers: 2, Jobs: 3, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tasks != 50 || rep.TasksPerSecond <= 0 || rep.JobLatencyP50Ms <= 0 || rep.RequestReplyMs <= 0 {
		t.Fatalf("report %+v", rep)
	}
}

// BenchmarkDispatch runs b.N no-work tasks as one job through the whole
// path; ms/task is wall time per task, rtt_ratio its cost in same-run NATS
// round trips.
func BenchmarkDispatch(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	rep, err := Run(ctx, Config{Tasks: max(b.N, 10), Workers: 2, Jobs: 1, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rep.MsPerTask, "ms/task")
	b.ReportMetric(rep.TaskCostInRoundTrips, "rtt_ratio")
}
