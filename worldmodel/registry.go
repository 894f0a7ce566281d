package worldmodel

import (
	"context"
	"fmt"

	"dreamrank/foundation/registry"
)

// Options configure opening a backend; each backend reads what it needs
// (a checkpoint path, a NATS URL and subject, ...).
type Options map[string]string

// Opener opens a model of one backend.
type Opener func(ctx context.Context, opts Options) (Model, error)

var backends = registry.New[Opener]("worldmodel backend")

// Register makes a backend available by name; backends call it from init.
// Registering a name twice panics, as it is a programming error.
func Register(name string, open Opener) { backends.Register(name, open) }

// Open opens a model by backend name.
func Open(ctx context.Context, backend string, opts Options) (Model, error) {
	open, ok := backends.Lookup(backend)
	if !ok {
		return nil, fmt.Errorf("%w: %q (registered: %v)", ErrUnknownBackend, backend, Backends())
	}
	m, err := open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("worldmodel: open %s: %w", backend, err)
	}
	return m, nil
}

// Backends lists the registered backend names.
func Backends() []string { return backends.Names() }
