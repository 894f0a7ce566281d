package job

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"dreamrank/foundation/errcode"
	"dreamrank/policy/zoo"
)

// SpecVersion is the job-spec format this build reads.
const SpecVersion = 1

// Limits keep one job from swamping the deployment. They are the defaults;
// a server may be configured with others.
type Limits struct {
	MaxSpecBytes     int // a spec larger than this is refused unread
	MaxPolicies      int
	MaxScenarios     int
	MaxEpisodes      int // episodes per policy per scenario
	MaxTotalEpisodes int // imagined rollouts over the whole job, world-model draws included
	MaxTasks         int
	MaxHorizon       int
}

// DefaultLimits are generous for CPU workers and small enough that a typo
// (a million episodes) is refused instead of queued.
func DefaultLimits() Limits {
	return Limits{MaxSpecBytes: 256 << 10, MaxPolicies: 64, MaxScenarios: 16, MaxEpisodes: 1000,
		MaxTotalEpisodes: 20000, MaxTasks: 4096, MaxHorizon: 1000}
}

// Priorities, highest first.
const (
	PriorityHigh   = "high"
	PriorityNormal = "normal"
	PriorityLow    = "low"
)

// Priorities lists the priorities, highest first.
func Priorities() []string { return []string{PriorityHigh, PriorityNormal, PriorityLow} }

// Spec is a job as users write it (version 1).
type Spec struct {
	Version int    `json:"version" yaml:"version"`
	Name    string `json:"name,omitempty" yaml:"name,omitempty"`
	// Policies are zoo arms by name or policies given in full.
	Policies   []PolicyRef `json:"policies" yaml:"policies"`
	WorldModel ModelRef    `json:"world_model" yaml:"world_model"`
	// Judge names a judge backend; default "pusht".
	Judge       string            `json:"judge,omitempty" yaml:"judge,omitempty"`
	JudgeOption map[string]string `json:"judge_options,omitempty" yaml:"judge_options,omitempty"`
	// Scenarios is the suite; default ["pusht"].
	Scenarios []string `json:"scenarios,omitempty" yaml:"scenarios,omitempty"`
	// Episodes per policy per scenario: the first Episodes of the
	// scenario's standard seeds, unless Seeds lists them.
	Episodes int     `json:"episodes,omitempty" yaml:"episodes,omitempty"`
	Seeds    []int64 `json:"seeds,omitempty" yaml:"seeds,omitempty"`
	// SeedsPerTask splits a policy's seeds into tasks; 0 keeps them in one
	// task (one batched rollout, like `dreamrank bench ranking`).
	SeedsPerTask int `json:"seeds_per_task,omitempty" yaml:"seeds_per_task,omitempty"`
	// Horizon caps episode steps (0: the scenario's own); Execute is the
	// actions run per chunk (0: half the chunk).
	Horizon int `json:"horizon,omitempty" yaml:"horizon,omitempty"`
	Execute int `json:"execute,omitempty" yaml:"execute,omitempty"`
	// RealBudget is the real episodes per policy the job may ask the fleet
	// for (control-variate safety estimates); 0 means imagined only.
	RealBudget int    `json:"real_budget,omitempty" yaml:"real_budget,omitempty"`
	Priority   string `json:"priority,omitempty" yaml:"priority,omitempty"`
	// Deadline is a duration from submission ("45m") or an RFC 3339 time.
	Deadline string `json:"deadline,omitempty" yaml:"deadline,omitempty"`
	// IdempotencyKey: submitting again with the same key and spec returns
	// the same job.
	IdempotencyKey string `json:"idempotency_key,omitempty" yaml:"idempotency_key,omitempty"`
}

// PolicyRef is one policy arm: a zoo arm (Arm) or a backend with options
// and steering (Name, Backend, Options, Context).
type PolicyRef struct {
	Arm     string            `json:"arm,omitempty" yaml:"arm,omitempty"`
	Name    string            `json:"name,omitempty" yaml:"name,omitempty"`
	Backend string            `json:"backend,omitempty" yaml:"backend,omitempty"`
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
	Context *zoo.Steering     `json:"context,omitempty" yaml:"context,omitempty"`
}

// ModelRef names a world-model backend and its options, and how many
// perturbed draws of it imagine each seed again.
type ModelRef struct {
	Backend string            `json:"backend" yaml:"backend"`
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
	// Draws, for scenarios with world-model features (pusht-safety), is how
	// many perturbed draws of the model (the objects backend's options
	// noise=DrawNoise and seed=1..Draws) imagine each seed again, besides
	// the model itself; each seed's features then gain their means over all
	// 1+Draws rollouts (the ens_* features, ens_violation the fraction that
	// violate), which rank seeds for the two-phase design. 0 (the default):
	// one rollout per seed; at most MaxDraws.
	Draws int `json:"draws,omitempty" yaml:"draws,omitempty"`
	// DrawNoise is the draws' relative noise, in (0, MaxDrawNoise]; unset:
	// DefaultDrawNoise. Only with Draws.
	DrawNoise *float64 `json:"draw_noise,omitempty" yaml:"draw_noise,omitempty"`
}

// World-model draws (ModelRef.Draws).
const (
	MaxDraws         = 32
	DefaultDrawNoise = 0.3 // a draw's spread about the objects model's own error at 32 steps
	MaxDrawNoise     = 2.0
)

// Noise is the draws' noise: DrawNoise, or DefaultDrawNoise when unset.
func (m ModelRef) Noise() float64 {
	if m.DrawNoise != nil {
		return *m.DrawNoise
	}
	return DefaultDrawNoise
}

// checkDraws checks the form of the draws fields; whether the scenarios
// have features to average is resolveScenarios' to check.
func (m ModelRef) checkDraws() error {
	switch {
	case m.Draws < 0:
		return fmt.Errorf("%w: world_model.draws %d must not be negative", ErrBadSpec, m.Draws)
	case m.Draws > MaxDraws:
		return fmt.Errorf("%w: world_model.draws %d, limit %d", ErrTooLarge, m.Draws, MaxDraws)
	case m.DrawNoise != nil && m.Draws == 0:
		return fmt.Errorf("%w: world_model.draw_noise is the noise of world-model draws: set draws too", ErrBadSpec)
	case m.DrawNoise != nil && !(*m.DrawNoise > 0 && *m.DrawNoise <= MaxDrawNoise):
		return fmt.Errorf("%w: world_model.draw_noise %g, want a value in (0, %g]", ErrBadSpec, *m.DrawNoise, MaxDrawNoise)
	}
	return nil
}

// Errors of spec parsing and validation; each maps to a bus code.
var (
	ErrBadSpec         = errors.New("job: bad spec")
	ErrTooLarge        = errors.New("job: spec too large")
	ErrUnknownPolicy   = errors.New("job: unknown policy")
	ErrUnknownModel    = errors.New("job: unknown world model")
	ErrUnknownJudge    = errors.New("job: unknown judge")
	ErrUnknownScenario = errors.New("job: unknown scenario")
)

func init() {
	errcode.Register(ErrBadSpec, errcode.BadSpec)
	errcode.Register(ErrTooLarge, errcode.TooLarge)
	errcode.Register(ErrUnknownPolicy, errcode.UnknownPolicy)
	errcode.Register(ErrUnknownModel, errcode.UnknownModel)
	errcode.Register(ErrUnknownJudge, errcode.UnknownJudge)
	errcode.Register(ErrUnknownScenario, errcode.UnknownScenario)
}

// Parse reads a spec from YAML or JSON (JSON is YAML too, but is decoded
// strictly as JSON when it starts with '{'). Unknown fields, trailing
// documents and specs over maxBytes are refused. It checks only the form;
// Validate checks the content.
func Parse(raw []byte, maxBytes int) (Spec, error) {
	var s Spec
	if maxBytes > 0 && len(raw) > maxBytes {
		return s, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(raw), maxBytes)
	}
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return s, fmt.Errorf("%w: empty", ErrBadSpec)
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			return Spec{}, fmt.Errorf("%w: %v", ErrBadSpec, err)
		}
		if dec.More() {
			return Spec{}, fmt.Errorf("%w: trailing data after the JSON object", ErrBadSpec)
		}
		return s, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(trimmed))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("%w: %v", ErrBadSpec, yamlMessage(err))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Spec{}, fmt.Errorf("%w: one YAML document expected", ErrBadSpec)
	}
	return s, nil
}

// yamlMessage drops the library's "yaml: " prefix for readable errors.
func yamlMessage(err error) string { return strings.TrimPrefix(err.Error(), "yaml: ") }

// deadline resolves Spec.Deadline against the submission time.
func (s Spec) deadline(now time.Time) (time.Time, error) {
	if s.Deadline == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s.Deadline); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%w: deadline %q is not in the future", ErrBadSpec, s.Deadline)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s.Deadline)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: deadline %q: want a duration (45m) or an RFC 3339 time", ErrBadSpec, s.Deadline)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%w: deadline %s has passed", ErrBadSpec, s.Deadline)
	}
	return t, nil
}
