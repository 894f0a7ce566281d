package server_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/server"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/worker"
)

// waitDone polls until a job has at least n tasks done.
func waitDone(t *testing.T, c jobapi.Client, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if st, err := c.Status(ctx(t), id); err == nil && st.Done >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("job %s: fewer than %d tasks done after 30s", id, n)
}

// checkCounted asserts a finished job counted every task exactly once.
func checkCounted(t *testing.T, st job.Status, tasks, episodes int) {
	t.Helper()
	if st.State != job.Succeeded || st.Tasks != tasks || st.Done != tasks || st.Failed != 0 || st.Episodes != episodes {
		t.Fatalf("status %+v, want %d tasks and %d episodes each counted once", st, tasks, episodes)
	}
	n := 0
	for _, a := range st.Result.Scenarios[0].Ranking.Arms {
		n += a.Episodes
	}
	if n != episodes {
		t.Fatalf("result ranks %d episodes, want %d", n, episodes)
	}
}

func TestServerRestartMidJob(t *testing.T) {
	dir, port := t.TempDir(), servertest.FreePort(t)
	e := servertest.NATS(t, dir, port)
	nc := servertest.Connect(t, e.URL())
	s1 := servertest.Server(t, nc, server.Config{})
	run := &servertest.Runner{Hook: func(ctx context.Context, _ job.Task) error {
		select {
		case <-time.After(30 * time.Millisecond):
		case <-ctx.Done():
		}
		return nil
	}}
	wnc := servertest.Connect(t, e.URL())
	servertest.Workers(t, wnc, 1, run, worker.Config{})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a", "b")
	spec.Episodes, spec.SeedsPerTask = 20, 1 // 40 tasks
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	waitDone(t, c, rep.ID, 5)
	// Stop the server and its NATS node, then start both again on the same
	// store; the workers' connection reconnects by itself.
	if err := s1.Stop(); err != nil {
		t.Fatal(err)
	}
	e.Shutdown()
	e2 := servertest.NATS(t, dir, port)
	nc2 := servertest.Connect(t, e2.URL())
	servertest.Server(t, nc2, server.Config{})
	c2 := jobapi.Client{NC: nc2}
	st := servertest.Wait(t, c2, rep.ID, 60*time.Second)
	checkCounted(t, st, 40, 40)
}

// TestHelperWorkerProcess is not a test: TestWorkerKilledMidTask runs the
// test binary as a worker process through it.
func TestHelperWorkerProcess(t *testing.T) {
	url := os.Getenv("DREAMRANK_TEST_WORKER_URL")
	if url == "" {
		t.Skip("helper process for TestWorkerKilledMidTask")
	}
	nc := servertest.Connect(t, url)
	run := &servertest.Runner{Hook: func(ctx context.Context, tk job.Task) error {
		fmt.Printf("STARTED %s %d\n", tk.Job, tk.Index)
		<-ctx.Done() // hang until killed
		return ctx.Err()
	}}
	servertest.Workers(t, nc, 1, run, worker.Config{Name: "doomed"})
	select {}
}

func TestWorkerKilledMidTask(t *testing.T) {
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	c := jobapi.Client{NC: nc}
	spec := servertest.Spec("a", "b")
	rep, err := c.Submit(ctx(t), spec, "")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "DREAMRANK_TEST_WORKER_URL="+e.URL())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "STARTED ") {
				started <- sc.Text()
				return
			}
		}
	}()
	var line string
	select {
	case line = <-started:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the worker process never started a task")
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no ack, no nak
		t.Fatal(err)
	}
	_ = cmd.Wait()
	var killedJob string
	var killedTask int
	if _, err := fmt.Sscanf(line, "STARTED %s %d", &killedJob, &killedTask); err != nil || killedJob != rep.ID {
		t.Fatalf("started line %q", line)
	}
	run := &servertest.Runner{}
	servertest.Workers(t, nc, 1, run, worker.Config{})
	st := servertest.Wait(t, c, rep.ID, 30*time.Second)
	checkCounted(t, st, 2, 8)
	if n := run.Runs(rep.ID, killedTask); n != 1 {
		t.Fatalf("the killed task ran %d times on the survivor, want 1", n)
	}
	if run.TotalRuns() != 2 {
		t.Fatalf("survivor ran %d tasks, want 2", run.TotalRuns())
	}
}

func TestLoad200JobsFrom20Clients(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	servertest.Server(t, nc, server.Config{})
	run := &servertest.Runner{}
	servertest.Workers(t, servertest.Connect(t, e.URL()), 4, run, worker.Config{})
	const clients, perClient = 20, 10
	ids := make(chan string, clients*perClient)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := jobapi.Client{NC: servertest.Connect(t, e.URL())}
			for i := range perClient {
				spec := servertest.Spec("a", "b", "c")
				spec.Name = fmt.Sprintf("client%d-job%d", k, i)
				rep, err := c.Submit(ctx(t), spec, spec.Name)
				if err != nil {
					errs <- err
					return
				}
				ids <- rep.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c := jobapi.Client{NC: nc}
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("job id %s returned twice", id)
		}
		seen[id] = true
	}
	for id := range seen {
		checkCounted(t, servertest.Wait(t, c, id, 60*time.Second), 3, 12)
	}
	if len(seen) != clients*perClient {
		t.Fatalf("%d jobs, want %d", len(seen), clients*perClient)
	}
	list, err := c.List(ctx(t), jobapi.ListRequest{Limit: 1000})
	if err != nil || list.Total != clients*perClient {
		t.Fatalf("list: %d jobs, %v", list.Total, err)
	}
	if n := run.TotalRuns(); n != 3*clients*perClient {
		t.Fatalf("%d task runs for %d tasks", n, 3*clients*perClient)
	}
}
