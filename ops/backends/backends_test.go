package backends_test

import (
	"slices"
	"testing"

	"dreamrank/evaluator/judge"
	_ "dreamrank/ops/backends"
	"dreamrank/policy"
	"dreamrank/worldmodel"
)

// The build links exactly these backends: a new one is added here and in
// backends.go together, and none goes missing from the binary unnoticed.
func TestRegisteredNames(t *testing.T) {
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"world models", worldmodel.Backends(), []string{"builtin", "copylast", "objects", "oracle", "remote", "slots", "websocket"}},
		{"world models with draws", worldmodel.DrawBackends(), []string{"objects", "slots"}},
		{"policies", policy.Names(), []string{"flow", "foresight", "nats", "openpi", "scripted"}},
		{"judges", judge.Names(), []string{"overlap", "pusht-vision", "remote", "websocket"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("registered %v, want %v", tc.got, tc.want)
			}
		})
	}
}
