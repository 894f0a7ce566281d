package envelope

import (
	"fmt"
	"runtime/debug"
	"sync"

	"dreamrank/foundation/errcode"
)

// Inflight is what a served replica (world model, policy, judge) shares
// about its requests: each runs on its own goroutine until the replica
// stops, after which new ones are refused, and Stop's caller waits for
// those in flight. The zero value is ready.
type Inflight struct {
	mu       sync.Mutex
	stopping bool
	wg       sync.WaitGroup
}

// Go runs work on its own goroutine, or reports false once stopping.
func (f *Inflight) Go(work func()) bool {
	f.mu.Lock()
	if f.stopping {
		f.mu.Unlock()
		return false
	}
	f.wg.Add(1)
	f.mu.Unlock()
	go func() {
		defer f.wg.Done()
		work()
	}()
	return true
}

// Stop refuses new work and reports whether this was the first call.
func (f *Inflight) Stop() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	first := !f.stopping
	f.stopping = true
	return first
}

// Wait waits for the work in flight.
func (f *Inflight) Wait() { f.wg.Wait() }

// Guard calls fn, turning a panic in the served model into an Internal
// error that carries the stack.
func Guard(fn func() ([]byte, error)) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errcode.New(errcode.Internal, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	return fn()
}
