package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
)

// cluster starts n embedded nodes routed to each other on loopback.
func cluster(t *testing.T, n int) ([]*bus.Embedded, []string) {
	t.Helper()
	routePorts := make([]int, n)
	var routes []string
	for i := range n {
		routePorts[i] = servertest.FreePort(t)
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[i]))
	}
	nodes := make([]*bus.Embedded, n)
	urls := make([]string, n)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{StoreDir: t.TempDir(), ServerName: fmt.Sprintf("n%d", i),
			Cluster: &bus.ClusterConfig{Name: "dreamrank-test", Port: routePorts[i], Routes: routes}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Shutdown)
		nodes[i], urls[i] = e, e.URL()
	}
	return nodes, urls
}

// startReplicated starts a job server once the cluster's JetStream has a
// leader (creating R3 streams fails until then).
func startReplicated(t *testing.T, url string) *server.Server {
	t.Helper()
	nc := servertest.Connect(t, url)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s, err := server.Start(ctx, nc, server.Config{Catalog: servertest.Catalog(),
			Queue: queue.Config{Replicas: 3, AckWait: 2 * time.Second}})
		cancel()
		if err == nil {
			t.Cleanup(func() { _ = s.Stop() })
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job server on a 3-node cluster: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// submitWhenServed submits spec, retrying while the cluster has not yet
// routed the job server's subscriptions to the client's node (a loaded
// machine can take seconds to).
func submitWhenServed(t *testing.T, c jobapi.Client, spec job.Spec) jobapi.SubmitReply {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rep, err := c.Submit(ctx(t), spec, "")
		if err == nil {
			return rep
		}
		if !errors.Is(err, errcode.Unavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestClusterNodeLossMidJob(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node cluster")
	}
	nodes, urls := cluster(t, 3)
	all := strings.Join(urls, ",")
	// The API and aggregator talk to node 0 first; workers sit on node 2,
	// the node that goes down, and must fail over to the others.
	startReplicated(t, urls[0]+","+urls[1])
	run := &servertest.Runner{Hook: func(ctx context.Context, _ job.Task) error {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}}
	wnc := servertest.Connect(t, urls[2]+","+all)
	servertest.Workers(t, wnc, 2, run, worker.Config{})
	c := jobapi.Client{NC: servertest.Connect(t, all)}
	spec := servertest.Spec("a", "b", "c")
	spec.Episodes, spec.SeedsPerTask = 20, 1 // 60 tasks
	rep := submitWhenServed(t, c, spec)
	waitDone(t, c, rep.ID, 10)
	nodes[2].Shutdown()
	st := servertest.Wait(t, c, rep.ID, 90*time.Second)
	checkCounted(t, st, 60, 60)
	for i := range 60 {
		if run.Runs(rep.ID, i) == 0 {
			t.Fatalf("task %d never ran", i)
		}
	}
	t.Logf("60 tasks, %d runs (redeliveries after the node loss: %d)", run.TotalRuns(), run.TotalRuns()-60)
}
