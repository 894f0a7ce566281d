// Package scenarios describes what a policy is evaluated on: a task with its
// instruction, horizon and the seeds that fix each episode's initial
// condition. Scenario specs are values; simulators and world models interpret
// them.
package scenarios

import (
	"errors"
	"fmt"
	"sort"
)

// ErrUnknown is returned when a scenario name is not registered.
var ErrUnknown = errors.New("unknown scenario")

// Scenario is one task with a distribution of initial conditions, indexed by seed.
type Scenario struct {
	Name        string `json:"name"`
	Instruction string `json:"instruction"`
	// Horizon is the maximum number of control steps of an episode.
	Horizon int `json:"horizon"`
	// ControlHz is the control rate, so step t happens at t/ControlHz seconds.
	ControlHz float64 `json:"control_hz"`
	// TestSeeds and TrainSeeds are the standard seed sets of the task.
	TestSeeds  []int64 `json:"test_seeds"`
	TrainSeeds []int64 `json:"train_seeds"`
}

// SeedRange returns n consecutive seeds starting at first.
func SeedRange(first int64, n int) []int64 {
	seeds := make([]int64, n)
	for i := range seeds {
		seeds[i] = first + int64(i)
	}
	return seeds
}

// PushT is the Diffusion Policy PushT task with its standard evaluation
// seeds: 50 test seeds from 100000 and 6 train seeds from 0, legacy reset.
func PushT() Scenario {
	return Scenario{
		Name:        "pusht",
		Instruction: "push the T-shaped block onto the green target",
		Horizon:     300,
		ControlHz:   10,
		TestSeeds:   SeedRange(100000, 50),
		TrainSeeds:  SeedRange(0, 6),
	}
}

// PushL is the second simulated scene (foundation/pushl): an L-shaped
// block pushed onto its target, with PushT's horizon, rate and seed sets.
func PushL() Scenario {
	return Scenario{
		Name:        "pushl",
		Instruction: "push the orange L-shaped block onto the violet target",
		Horizon:     300,
		ControlHz:   10,
		TestSeeds:   SeedRange(100000, 50),
		TrainSeeds:  SeedRange(0, 6),
	}
}

var registry = map[string]func() Scenario{
	"pusht": PushT,
	"pushl": PushL,
}

// Lookup returns the registered scenario with this name.
func Lookup(name string) (Scenario, error) {
	f, ok := registry[name]
	if !ok {
		return Scenario{}, fmt.Errorf("%w: %q (known: %v)", ErrUnknown, name, Names())
	}
	return f(), nil
}

// Names lists the registered scenarios in order.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
