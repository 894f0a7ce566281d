package worldmodel

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Options configure opening a backend; each backend reads what it needs
// (a checkpoint path, a NATS URL and subject, ...).
type Options map[string]string

// Opener opens a model of one backend.
type Opener func(ctx context.Context, opts Options) (Model, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a backend available by name; backends call it from init.
// Registering a name twice panics, as it is a programming error.
func Register(name string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("worldmodel: backend registered twice: " + name)
	}
	registry[name] = open
}

// Open opens a model by backend name.
func Open(ctx context.Context, backend string, opts Options) (Model, error) {
	registryMu.RLock()
	open, ok := registry[backend]
	registryMu.RUnlock()
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
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
