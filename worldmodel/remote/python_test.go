package remote

import (
	"os/exec"
	"testing"
)

// TestPythonExample runs the self-test of PROTOCOL.md's Python replica
// (testdata/copylast_server.py): its codec against the golden envelopes and
// its session logic (parts, retries, conflicts, expiry) without NATS. It
// needs a python3 with numpy and skips without one.
func TestPythonExample(t *testing.T) {
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import numpy").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("no python3 with numpy")
	}
	out, err := exec.Command(python, "testdata/copylast_server.py", "--selftest", "testdata").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
