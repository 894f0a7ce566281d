// Package peertest helps test the protocols on foundation/peer. Start
// runs Python websocket peers: the examples in examples/python, run by a
// python3 with numpy, msgpack and websockets (Debian's, from `make
// setup-test`; missing, a test skips, or fails under CI=true, as
// foundation/testenv has it). Wire gives a message as a peer receives it,
// and FuzzMessages fuzzes a protocol's decoders.
package peertest

import (
	"bufio"
	"bytes"
	"os/exec"
	"regexp"
	"sync"
	"testing"
	"time"

	"dreamrank/foundation/testenv"
)

// StartTimeout bounds how long a peer may take to print its address.
const StartTimeout = 30 * time.Second

// Python is a python3 that can run the peers, or t stops.
func Python(t testing.TB) string {
	t.Helper()
	works := func(p string) bool {
		return exec.Command(p, "-c", "import numpy, msgpack, websockets").Run() == nil
	}
	return testenv.Program(t, "python3 with numpy, msgpack and websockets", works, "/usr/bin/python3", "python3")
}

// Process is a running peer.
type Process struct {
	// URL is the address the peer printed ("listening on ws://...").
	URL string
	cmd *exec.Cmd
}

// Kill ends the peer at once (SIGKILL), as a crash would.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
}

var listening = regexp.MustCompile(`listening on (ws://\S+)`)

// Start runs script with args (add "--port", "0" for a free port) and
// waits for its "listening on ws://host:port" line; the process is killed
// when the test ends, and its stderr logged.
func Start(t testing.TB, script string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(Python(t), append([]string{"-u", script}, args...)...)
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if s := stderr.String(); s != "" {
			t.Logf("%s stderr:\n%s", script, s)
		}
	})
	select {
	case url := <-urls:
		return &Process{URL: url, cmd: cmd}
	case <-exited:
		t.Fatalf("%s exited before listening: %v\n%s", script, cmd.ProcessState, stderr.String())
	case <-time.After(StartTimeout):
		t.Fatalf("%s did not print its address within %v\n%s", script, StartTimeout, stderr.String())
	}
	return nil
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine exec starts.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
