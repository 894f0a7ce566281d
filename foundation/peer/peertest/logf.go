package peertest

import (
	"sync"
	"testing"
)

// Logf is t.Logf for a server's connection goroutines, which can outlive
// the test (a hijacked websocket is not waited for by httptest's Close):
// a line logged after the test ended is dropped instead of racing with the
// testing package's bookkeeping (go test -race reported it).
func Logf(t testing.TB) func(format string, args ...any) {
	var (
		mu   sync.Mutex
		done bool
	)
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
}
