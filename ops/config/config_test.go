package config

import (
	"errors"
	"testing"

	"github.com/spf13/pflag"
)

const sample = `
data: /srv/dreamrank
log-level: debug
expert eval:
  quality: 3
  data: /srv/eval
`

func TestApply(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		args        []string
		wantData    string
		wantQuality int
	}{
		{name: "global key", path: "dataset import", wantData: "/srv/dreamrank", wantQuality: 5},
		{name: "command section wins over global", path: "expert eval", wantData: "/srv/eval", wantQuality: 3},
		{name: "command line wins over file", path: "expert eval", args: []string{"--quality", "1"}, wantData: "/srv/eval", wantQuality: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("sample", []byte(sample))
			if err != nil {
				t.Fatal(err)
			}
			fs := pflag.NewFlagSet(tt.path, pflag.ContinueOnError)
			data := fs.String("data", "data", "")
			quality := fs.Int("quality", 5, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if err := c.Apply(tt.path, fs); err != nil {
				t.Fatal(err)
			}
			if *data != tt.wantData || *quality != tt.wantQuality {
				t.Fatalf("data=%q quality=%d, want %q %d", *data, *quality, tt.wantData, tt.wantQuality)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{name: "not yaml", yaml: "data: [unclosed"},
		{name: "unknown setting in a section", yaml: "expert eval:\n  colour: red\n"},
		{name: "bad value", yaml: "expert eval:\n  quality: high\n"},
		{name: "nested section", yaml: "expert eval:\n  x:\n    y: 1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bad", []byte(tt.yaml))
			if err == nil {
				fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
				fs.Int("quality", 5, "")
				err = c.Apply("expert eval", fs)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
