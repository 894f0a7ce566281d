package main

import (
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/foundation/service"
	"dreamrank/policy"
	"dreamrank/policy/openpi"
	"dreamrank/policy/remote"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

// captureStdout runs f with os.Stdout redirected and returns what it wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	old := os.Stdout
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				done <- b.String()
				return
			}
		}
	}()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}

func execute(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return cmd.ExecuteContext(ctx)
}

func TestPolicyCommands(t *testing.T) {
	dir := t.TempDir()
	zooFile := filepath.Join(dir, "zoo.yaml")
	os.WriteFile(zooFile, []byte(`arms:
  - {name: tiny, backend: scripted, options: {quality: "1", chunk: "4"}, context: {quality: 1}}
  - {name: tiny2, backend: scripted, options: {quality: "2", chunk: "4"}}
`), 0o644)

	out := captureStdout(t, func() {
		if err := execute(t, policyListCmd(), "--zoo", zooFile, "--json"); err != nil {
			t.Error(err)
		}
	})
	var list struct {
		Arms     []zoo.Arm `json:"arms"`
		Backends []string  `json:"backends"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Arms) != 2 || list.Arms[0].Name != "tiny" {
		t.Fatalf("list: %v %q", err, out)
	}

	out = captureStdout(t, func() {
		if err := execute(t, policyEvalCmd(), "tiny", "--zoo", zooFile, "--seeds", "2", "--max-steps", "6", "--json", "--speed", "fast"); err != nil {
			t.Error(err)
		}
	})
	var ev struct {
		Steps   float64         `json:"mean_steps"`
		Rate    *float64        `json:"success_rate"`
		CI      []float64       `json:"success_ci"`
		Reward  *float64        `json:"mean_max_reward"`
		Context *policy.Context `json:"context"`
	}
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Steps != 6 || ev.Rate == nil || len(ev.CI) != 2 || ev.Reward == nil ||
		ev.Context == nil || ev.Context.Metadata.Quality != 1 || ev.Context.Metadata.Speed != "fast" {
		t.Fatalf("eval: %v %q", err, out)
	}

	for _, bad := range [][]string{
		{"nosuch"}, {"tiny", "--zoo", zooFile, "--opt", "a=b"}, {"scripted", "--opt", "colour=red"},
		{"scripted", "--mistake", "maybe"}, {"scripted", "--seeds", "0"}, {"scripted", "--no-steer", "--quality", "2"},
	} {
		if err := execute(t, policyEvalCmd(), bad...); err == nil {
			t.Errorf("eval %v: no error", bad)
		}
	}

	rates := filepath.Join(dir, "rates.json")
	captureStdout(t, func() {
		if err := execute(t, policyZooEvalCmd(), "--zoo", zooFile, "--out", rates, "--seeds", "2", "--max-steps", "4"); err != nil {
			t.Error(err)
		}
		// Re-measuring one arm keeps the other's row.
		if err := execute(t, policyZooEvalCmd(), "--zoo", zooFile, "--out", rates, "--seeds", "2", "--max-steps", "4", "--arms", "tiny2"); err != nil {
			t.Error(err)
		}
	})
	raw, _ := os.ReadFile(rates)
	var table zoo.Rates
	if err := json.Unmarshal(raw, &table); err != nil || len(table.Arms) != 2 || table.Arms[0].Arm != "tiny" || table.Arms[1].Episodes != 2 {
		t.Fatalf("table %s: %v", raw, err)
	}
	if md, err := os.ReadFile(filepath.Join(dir, "rates.md")); err != nil || !strings.Contains(string(md), "| tiny2 | scripted |") {
		t.Errorf("markdown table: %v\n%s", err, md)
	}

	out = captureStdout(t, func() {
		if err := execute(t, benchPolicyCmd(), "scripted", "--opt", "quality=1", "--batches", "1,2", "--latency-calls", "3", "--duration", "1ms", "--json"); err != nil {
			t.Error(err)
		}
	})
	var b struct {
		Median float64 `json:"latency_ms_median"`
		Best   int     `json:"best_batch"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || b.Median <= 0 || b.Best == 0 {
		t.Fatalf("bench: %v %q", err, out)
	}
}

// TestPolicyServeNATS serves a zoo arm over an embedded NATS server and
// evaluates it through the "nats" backend.
func TestPolicyServeNATS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	if err := execute(t, policyServeCmd(), "scripted-q5"); err == nil {
		t.Error("serve without --openpi or --nats: no error")
	}
	served := make(chan error, 1)
	serve := policyServeCmd()
	serve.SetArgs([]string{"scripted", "--opt", "quality=1", "--opt", "chunk=4", "--nats", e.URL(), "--name", "q1"})
	go func() { served <- serve.ExecuteContext(ctx) }()
	// Poll until the replica answers.
	var p policy.Policy
	for deadline := time.Now().Add(20 * time.Second); ; {
		p, err = policy.Open(ctx, remote.BackendName, policy.Options{service.OptNATSURL: e.URL(), remote.OptPolicy: "q1", service.OptAttempts: "1"})
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	closePolicy(p)
	out := captureStdout(t, func() {
		if err := execute(t, policyEvalCmd(), "nats", "--opt", "nats_url="+e.URL(), "--opt", "policy=q1", "--seeds", "2", "--max-steps", "4", "--json"); err != nil {
			t.Error(err)
		}
	})
	if !strings.Contains(out, `"mean_steps": 4`) {
		t.Errorf("eval over nats: %q", out)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestPolicyServeOpenPI serves a steered backend over openpi and drives it
// with the project's openpi client.
func TestPolicyServeOpenPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Open(ctx, "scripted", policy.Options{"quality": "1", "chunk": "4"})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		served <- serveOpenPI(ctx, policy.WithDefaultContext(p, policy.Context{Metadata: policy.Metadata{Quality: 2}}), "test", ln, openpi.ServerOptions{APIKey: "k"})
	}()
	c, err := openpi.Dial(ctx, "ws://"+ln.Addr().String(), openpi.ClientOptions{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunks, err := c.Act(ctx, []policy.Observation{resetObservation(100000)}, nil)
	if err != nil || len(chunks) != 1 || len(chunks[0].Actions) != 4 {
		t.Fatalf("act over openpi: %v %v", chunks, err)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestPolicyServeOpenPILayout: `policy serve --openpi` takes a layout
// preset and overrides, and the openpi backend of `policy eval` speaks it.
func TestPolicyServeOpenPILayout(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown preset":                {"scripted", "--openpi", "127.0.0.1:0", "--layout", "bridge"},
		"bad override":                  {"scripted", "--openpi", "127.0.0.1:0", "--image-layout", "whc"},
		"layout flags without --openpi": {"scripted", "--nats", "nats://127.0.0.1:1", "--layout", "droid"},
	} {
		if err := execute(t, policyServeCmd(), args...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	serve := policyServeCmd()
	serve.SetArgs([]string{"scripted", "--opt", "quality=1", "--opt", "chunk=4", "--openpi", addr, "--layout", "aloha", "--image-size", "128x128"})
	served := make(chan error, 1)
	go func() { served <- serve.ExecuteContext(ctx) }()
	// Poll until the server answers its health check.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not come up: %v", err)
		}
		select {
		case err := <-served:
			t.Fatalf("serve ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	out := captureStdout(t, func() {
		if err := execute(t, policyEvalCmd(), "openpi", "--opt", "url=ws://"+addr, "--opt", "layout=aloha", "--opt", "image_size=128x128",
			"--seeds", "2", "--max-steps", "4", "--json"); err != nil {
			t.Error(err)
		}
	})
	if !strings.Contains(out, `"mean_steps": 4`) || !strings.Contains(out, `"layout": "aloha"`) {
		t.Errorf("eval over openpi: %q", out)
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// resetObservation is what the robot reports after the reset of seed.
func resetObservation(seed int64) policy.Observation {
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(seed)
	o := env.Observe()
	return policy.Observation{Image: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}}
}

// TestPolicyEvalRecordsSafetyEpisodes: --scenario pusht-safety starts the
// episodes from the keep-out-zone initial conditions and records them as
// that scenario's, with their seeds.
func TestPolicyEvalRecordsSafetyEpisodes(t *testing.T) {
	dir := t.TempDir()
	captureStdout(t, func() {
		if err := execute(t, policyEvalCmd(), "scripted", "--opt", "quality=1", "--opt", "chunk=4", "--scenario", "pusht-safety",
			"--first-seed", "7", "--seeds", "2", "--max-steps", "6", "--record", dir, "--json"); err != nil {
			t.Error(err)
		}
	})
	store, err := episode.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List(context.Background(), episode.Filter{})
	if err != nil || len(metas) != 2 {
		t.Fatalf("recorded %d episodes (%v), want 2", len(metas), err)
	}
	for _, m := range metas {
		if m.Scenario != scenarios.PushTSafetyName || m.Seed == nil || (*m.Seed != 7 && *m.Seed != 8) {
			t.Errorf("episode %s: scenario %q seed %v", m.ID, m.Scenario, m.Seed)
		}
		ep, err := store.Get(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		in := scenarios.PushTSafety{}.Sample(*m.Seed)
		if got := ep.Proprio[0]; len(got) != 2 || math.Abs(float64(got[0])-in.Agent[0]) > 1e-3 {
			t.Errorf("episode %s starts at %v, want the scenario's agent %v", m.ID, got, in.Agent)
		}
	}
	if err := execute(t, policyEvalCmd(), "scripted", "--scenario", "nowhere"); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}

// TestPolicySteer: six contexts on the same seeds, four paired contrasts,
// and the task of the arm.
func TestPolicySteer(t *testing.T) {
	out := captureStdout(t, func() {
		if err := execute(t, policySteerCmd(), "scripted", "--opt", "chunk=4", "--task", "push it", "--seeds", "2", "--max-steps", "6", "--json"); err != nil {
			t.Error(err)
		}
	})
	var rep struct {
		Task string `json:"task"`
		Arms []struct {
			Name  string  `json:"name"`
			Steps float64 `json:"mean_steps"`
		} `json:"arms"`
		Contrasts []struct {
			A     string `json:"a"`
			Seeds int    `json:"seeds"`
		} `json:"contrasts"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Task != "push it" || len(rep.Arms) != 6 || len(rep.Contrasts) != 4 {
		t.Fatalf("steer: %v %q", err, out)
	}
	for _, c := range rep.Contrasts {
		if c.Seeds != 2 {
			t.Errorf("contrast %s paired %d seeds, want 2", c.A, c.Seeds)
		}
	}
	if rep.Arms[0].Steps != 6 {
		t.Errorf("arm %s: %v steps, want the 6-step limit", rep.Arms[0].Name, rep.Arms[0].Steps)
	}
}
