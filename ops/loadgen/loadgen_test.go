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
