package judge_test

import (
	"context"
	"testing"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/judgetest"
	"dreamrank/policy/expert"
)

// TestContract opens the PushT judge through the registry, as it is by
// default and with its options, and judges two short simulated episodes.
func TestContract(t *testing.T) {
	eps, _, err := judge.Simulated(context.Background(), 100000, 2, []expert.Options{{MaxSteps: 12}})
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]judge.Options{
		"default":            nil,
		"workers and margin": {judge.OptWorkers: "2", judge.OptMargin: "0.02"},
	} {
		t.Run(name, func(t *testing.T) {
			j, err := judge.Open(context.Background(), judge.PushTName, opts)
			if err != nil {
				t.Fatal(err)
			}
			judgetest.Contract(t, j, eps)
		})
	}
}
