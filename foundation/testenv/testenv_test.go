package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a test would have stopped.
type recorder struct {
	testing.TB
	failed, skipped string
}

func (r *recorder) Helper()         {}
func (r *recorder) Fatal(a ...any)  { r.failed = a[0].(string) }
func (r *recorder) Skip(a ...any)   { r.skipped = a[0].(string) }
func (r *recorder) stopped() string { return r.failed + r.skipped }

func TestProgram(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(dir, "data")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	yes := func(string) bool { return true }
	no := func(string) bool { return false }
	tests := []struct {
		name       string
		ci         string
		works      func(string) bool
		candidates []string
		want       string
		fail, skip bool
	}{
		{"absolute path", "", nil, []string{tool}, tool, false, false},
		{"name in PATH", "", nil, []string{"tool"}, tool, false, false},
		{"first that exists", "", nil, []string{filepath.Join(dir, "nope"), "tool"}, tool, false, false},
		{"works decides", "", yes, []string{"tool"}, tool, false, false},
		{"missing skips", "", nil, []string{filepath.Join(dir, "nope")}, "", false, true},
		{"not executable skips", "false", nil, []string{notExec}, "", false, true},
		{"not working skips", "", no, []string{"tool"}, "", false, true},
		{"missing fails under CI", "true", nil, []string{"nope"}, "", true, false},
		{"not working fails under CI", "1", no, []string{tool}, "", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			r := &recorder{TB: t}
			got := Program(r, "the tool", tc.works, tc.candidates...)
			if got != tc.want || (r.failed != "") != tc.fail || (r.skipped != "") != tc.skip {
				t.Fatalf("Program = %q, failed %q, skipped %q", got, r.failed, r.skipped)
			}
			if msg := r.stopped(); msg != "" && (!strings.Contains(msg, SetupCommand) || !strings.Contains(msg, "the tool")) {
				t.Errorf("message %q does not name the tool and %q", msg, SetupCommand)
			}
		})
	}
}
