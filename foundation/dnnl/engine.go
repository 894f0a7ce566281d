package dnnl

/*
#include "onednn.h"
*/
import "C"

import (
	"errors"
	"sync"
)

// Engine is oneDNN's CPU engine with one in-order stream. Close it after
// everything made from it. Plans of one engine share its stream, so they
// must not run concurrently: give concurrent work an engine each (they
// are cheap).
type Engine struct {
	mu     sync.Mutex
	e      C.dnnl_engine_t
	s      C.dnnl_stream_t
	closed bool
}

// NewEngine creates the CPU engine and its stream.
func NewEngine() (*Engine, error) {
	eng := &Engine{}
	if err := check(C.dnnl_engine_create(&eng.e, C.dnnl_cpu, 0), "engine", "dnnl_engine_create"); err != nil {
		return nil, err
	}
	if err := check(C.dnnl_stream_create(&eng.s, eng.e, C.dnnl_stream_default_flags), "engine", "dnnl_stream_create"); err != nil {
		C.dnnl_engine_destroy(eng.e)
		return nil, err
	}
	return eng, nil
}

// live returns the engine's handles, or ErrClosed.
func (eng *Engine) live() (C.dnnl_engine_t, error) {
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if eng.closed {
		return nil, ErrClosed
	}
	return eng.e, nil
}

// Close destroys the stream and the engine. Closing twice is a no-op.
func (eng *Engine) Close() error {
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if eng.closed {
		return nil
	}
	eng.closed = true
	err := check(C.dnnl_stream_destroy(eng.s), "engine", "dnnl_stream_destroy")
	return errors.Join(err, check(C.dnnl_engine_destroy(eng.e), "engine", "dnnl_engine_destroy"))
}
