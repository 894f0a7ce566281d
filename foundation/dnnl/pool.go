package dnnl

import (
	"errors"
	"sync"
)

// Pool keeps a model's idle networks by batch size: a network's primitives
// are built for one batch size, so a model reuses them across calls instead
// of building them again. Close frees the idle ones, and a network put back
// after Close is freed at once. The zero value is ready; safe for
// concurrent use.
type Pool[T interface{ Close() error }] struct {
	mu     sync.Mutex
	closed bool
	idle   map[int][]T
}

// Get takes an idle network for batch size b: ok is false when none is
// idle (build one); ErrClosed once the pool is closed.
func (p *Pool[T]) Get(b int) (v T, ok bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return v, false, ErrClosed
	}
	idle := p.idle[b]
	if len(idle) == 0 {
		return v, false, nil
	}
	v, p.idle[b] = idle[len(idle)-1], idle[:len(idle)-1]
	return v, true, nil
}

// Put returns a network for batch size b, or frees it if the pool is closed.
func (p *Pool[T]) Put(b int, v T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		v.Close()
		return
	}
	if p.idle == nil {
		p.idle = map[int][]T{}
	}
	p.idle[b] = append(p.idle[b], v)
}

// Closed tells whether Close was called.
func (p *Pool[T]) Closed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close frees the idle networks; closing twice is a no-op.
func (p *Pool[T]) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for _, idle := range p.idle {
		for _, v := range idle {
			errs = append(errs, v.Close())
		}
	}
	p.idle = nil
	return errors.Join(errs...)
}
