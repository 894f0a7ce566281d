// Package registry keeps open-ended backends by name (world models,
// policies, judges, ...): backends register from init, callers look them up
// by the name a user gave.
package registry

import (
	"sort"
	"sync"
)

// Registry maps names to backends of one kind. The zero value is not
// usable; make one with New.
type Registry[T any] struct {
	kind string
	mu   sync.RWMutex
	m    map[string]T
}

// New returns an empty registry; kind names its backends in panics.
func New[T any](kind string) *Registry[T] {
	return &Registry[T]{kind: kind, m: map[string]T{}}
}

// Register adds a backend. An empty or duplicate name panics: both are
// programming errors caught at start-up.
func (r *Registry[T]) Register(name string, v T) {
	if name == "" {
		panic(r.kind + ": register with an empty name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(r.kind + ": registered twice: " + name)
	}
	r.m[name] = v
}

// Lookup returns the backend registered under name.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v, ok := r.m[name]
	return v, ok
}

// Names lists the registered names, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
