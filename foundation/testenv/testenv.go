// Package testenv is what a test does when the machine lacks a program it
// needs (a browser, a Python with numpy): tests never install anything
// themselves; `make setup-test` (ops/setup/deps.sh --test) installs
// everything the tests need. Under CI (the environment variable CI=true) a
// missing program fails the test, so a gap in the setup cannot pass as a
// skip; elsewhere the test skips. Either way the message names the setup
// command.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// SetupCommand installs what the tests need.
const SetupCommand = "make setup-test"

// CI reports whether the tests run under CI (CI=true, or another true value
// strconv.ParseBool accepts).
func CI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Missing stops t because what is not installed: a failure under CI, a skip
// elsewhere, with the setup command in the message.
func Missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("%s is not installed: run `%s` (ops/setup/deps.sh --test) to install what the tests need", what, SetupCommand)
	if CI() {
		t.Fatal(msg)
		return
	}
	t.Skip(msg)
}

// Program returns the first of candidates (absolute paths or names looked
// up in PATH) that is an executable and, when works is not nil, for which
// works(path) holds. When none is, it calls Missing(t, what) and returns
// "" (after t.Fatal or t.Skip a real test never sees that).
func Program(t testing.TB, what string, works func(path string) bool, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if works == nil || works(path) {
			return path
		}
	}
	Missing(t, fmt.Sprintf("%s (tried %s)", what, strings.Join(candidates, ", ")))
	return ""
}
