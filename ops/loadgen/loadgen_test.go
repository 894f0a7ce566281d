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

// The same small run without and with TLS: both complete, and the TLS
// side really ran over TLS (its server requires it).
func TestCompareTLSSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := CompareTLS(ctx, Config{Tasks: 30, Workers: 2, Jobs: 2, Dir: t.TempDir()}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Plain.TLS || !c.TLS.TLS || c.TLS.TasksPerSecond <= 0 || c.MsPerTaskRatio <= 0 || c.RequestReplyRatio <= 0 ||
		len(c.Runs) != 4 || c.Runs[0].TLS || !c.Runs[2].TLS {
		t.Fatalf("comparison %+v", c)
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
