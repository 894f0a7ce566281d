package remote

import (
	"os/exec"
	"testing"

	"dreamrank/foundation/testenv"
)

// TestPythonExample runs the self-test of PROTOCOL.md's Python replica
// (testdata/copylast_server.py): its codec against the golden envelopes and
// its session logic (parts, retries, conflicts, expiry) without NATS. It
// needs a python3 with numpy (Debian's, from `make setup-test`).
func TestPythonExample(t *testing.T) {
	numpy := func(p string) bool { return exec.Command(p, "-c", "import numpy").Run() == nil }
	python := testenv.Program(t, "python3 with numpy", numpy, "/usr/bin/python3", "python3")
	out, err := exec.Command(python, "testdata/copylast_server.py", "--selftest", "testdata").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
