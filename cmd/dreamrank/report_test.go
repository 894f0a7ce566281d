package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReportRender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"example input", []string{"--input", "../../ops/report/testdata/input.json"}, ""},
		{"input required", nil, `required flag(s) "input" not set`},
		{"missing file", []string{"--input", "nope.json"}, "no such file"},
		{"not JSON", []string{"--input", "report.go"}, "--input report.go"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r")
			cmd := reportCmd()
			var stdout bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&bytes.Buffer{})
			cmd.SetArgs(append([]string{"render", "--out", out}, tc.args...))
			err := cmd.Execute()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(stdout.String(), "wrote 9 files") {
				t.Errorf("stdout %q", stdout.String())
			}
			for _, f := range []string{"report.html", "report.md", "report.json", "plots/success.svg", "previews/01-q1-100007.gif"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
		})
	}
}
