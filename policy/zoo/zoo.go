// Package zoo is the policy zoo: the named policy arms that ranking
// experiments evaluate (zoo.go), and the table of their measured true
// success rates (rates.go).
//
// Each arm is a policy backend with options plus an optional steering
// context. The arms live in a committed file, zoo.yaml, embedded in the
// binary; adding an arm is one entry there:
//
//   - {name: flow-step4000, backend: flow, options: {checkpoint: checkpoints/flow/step-4000}, description: "..."}
//
// Open opens an arm's policy through the policy backend registry, so the
// backend must be linked in (the command imports every backend).
//
// The rates table is a measurement of the arms, not part of their
// definition: TRUE_RATES.json (embedded, TrueRates) and TRUE_RATES.md,
// both written by `dreamrank policy zoo-eval` (see the README) through
// Rates.Write.
package zoo

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"dreamrank/policy"
)

// Sentinel errors.
var (
	// ErrInvalid reports a zoo file that cannot be used.
	ErrInvalid = errors.New("zoo: invalid")
	// ErrUnknownArm: no arm of that name in the zoo.
	ErrUnknownArm = errors.New("zoo: unknown arm")
)

//go:embed zoo.yaml
var defaultFile []byte

// DefaultPath is where the committed zoo file lives in the repository.
const DefaultPath = "policy/zoo/zoo.yaml"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Steering is an arm's steering context as written in the zoo file.
type Steering struct {
	Task    string `yaml:"task,omitempty" json:"task,omitempty"`
	Subtask string `yaml:"subtask,omitempty" json:"subtask,omitempty"`
	Speed   string `yaml:"speed,omitempty" json:"speed,omitempty"`
	Quality int    `yaml:"quality,omitempty" json:"quality,omitempty"`
	Mistake *bool  `yaml:"mistake,omitempty" json:"mistake,omitempty"`
}

// Context is the policy.Context the steering describes.
func (s Steering) Context() policy.Context {
	return policy.Context{Task: s.Task, Subtask: s.Subtask,
		Metadata: policy.Metadata{Speed: s.Speed, Quality: s.Quality, Mistake: s.Mistake}}
}

// String renders the steering for reports: "speed=fast quality=2", or ""
// for none.
func (s *Steering) String() string {
	if s == nil {
		return ""
	}
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("task", s.Task)
	add("subtask", s.Subtask)
	add("speed", s.Speed)
	if s.Quality > 0 {
		add("quality", strconv.Itoa(s.Quality))
	}
	if s.Mistake != nil {
		add("mistake", strconv.FormatBool(*s.Mistake))
	}
	return strings.Join(parts, " ")
}

// Arm is one entry of the zoo: a policy and how it is steered.
type Arm struct {
	Name        string            `yaml:"name" json:"name"`
	Backend     string            `yaml:"backend" json:"backend"`
	Options     map[string]string `yaml:"options,omitempty" json:"options,omitempty"`
	Context     *Steering         `yaml:"context,omitempty" json:"context,omitempty"`
	Description string            `yaml:"description,omitempty" json:"description,omitempty"`
}

// Steer is the arm's steering context, nil when it has none.
func (a Arm) Steer() *policy.Context {
	if a.Context == nil {
		return nil
	}
	c := a.Context.Context()
	return &c
}

// Zoo is a list of arms with unique names.
type Zoo struct {
	Arms []Arm `yaml:"arms" json:"arms"`
}

// Parse reads a zoo file (YAML; JSON is YAML too); name is used in errors.
func Parse(name string, raw []byte) (*Zoo, error) {
	var z Zoo
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true) // a misspelt key must not silently drop an option
	if err := dec.Decode(&z); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	seen := map[string]bool{}
	for i, a := range z.Arms {
		switch {
		case !nameRE.MatchString(a.Name):
			return nil, fmt.Errorf("%w: %s: arm %d: name %q, want [A-Za-z0-9_-]+", ErrInvalid, name, i, a.Name)
		case seen[a.Name]:
			return nil, fmt.Errorf("%w: %s: arm %q listed twice", ErrInvalid, name, a.Name)
		case a.Backend == "":
			return nil, fmt.Errorf("%w: %s: arm %q has no backend", ErrInvalid, name, a.Name)
		}
		if c := a.Context; c != nil {
			if c.Quality < 0 || c.Quality > 5 {
				return nil, fmt.Errorf("%w: %s: arm %q: quality %d outside 1..5", ErrInvalid, name, a.Name, c.Quality)
			}
			if !slices.Contains([]string{"", policy.SpeedSlow, policy.SpeedNormal, policy.SpeedFast}, c.Speed) {
				return nil, fmt.Errorf("%w: %s: arm %q: speed %q (slow, normal, fast)", ErrInvalid, name, a.Name, c.Speed)
			}
		}
		seen[a.Name] = true
	}
	return &z, nil
}

// Load reads a zoo file from disk.
func Load(path string) (*Zoo, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("zoo: %w", err)
	}
	return Parse(path, raw)
}

// Default is the committed zoo (zoo.yaml, embedded).
func Default() *Zoo {
	z, err := Parse(DefaultPath, defaultFile)
	if err != nil {
		panic(err) // the committed file is checked by the package's tests
	}
	return z
}

// Names lists the arms in file order.
func (z *Zoo) Names() []string {
	out := make([]string, len(z.Arms))
	for i, a := range z.Arms {
		out[i] = a.Name
	}
	return out
}

// Arm returns the arm called name.
func (z *Zoo) Arm(name string) (Arm, error) {
	for _, a := range z.Arms {
		if a.Name == name {
			return a, nil
		}
	}
	return Arm{}, fmt.Errorf("%w: %q (have %s)", ErrUnknownArm, name, strings.Join(z.Names(), ", "))
}

// Open opens arm name's policy; the arm says how to steer it.
func (z *Zoo) Open(ctx context.Context, name string) (policy.Policy, Arm, error) {
	a, err := z.Arm(name)
	if err != nil {
		return nil, a, err
	}
	p, err := policy.Open(ctx, a.Backend, policy.Options(a.Options))
	if err != nil {
		return nil, a, fmt.Errorf("zoo: open arm %q: %w", name, err)
	}
	return p, a, nil
}

// Open opens an arm of the committed zoo.
func Open(ctx context.Context, name string) (policy.Policy, Arm, error) {
	return Default().Open(ctx, name)
}
