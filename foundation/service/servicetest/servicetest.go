// Package servicetest helps test the project's NATS protocols: an embedded
// nats-server per test, connections, replicas and clients that clean up
// after themselves, and polling with a deadline.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/bus"
)

// NATS runs an embedded nats-server on a random port, with JetStream in a
// temp dir as dreamrank's default server runs, and returns its URL.
func NATS(tb testing.TB) string { return NATSWith(tb, bus.EmbeddedConfig{}) }

// NATSWith is NATS with the server configured by c (credentials, say).
func NATSWith(tb testing.TB, c bus.EmbeddedConfig) string {
	tb.Helper()
	c.StoreDir = tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := bus.StartEmbedded(ctx, c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Shutdown)
	return e.URL()
}

// Connect connects to url, closing the connection at cleanup.
func Connect(tb testing.TB, url string, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Serve starts a replica with serve(ctx, nc, name, x, opts) (a protocol
// package's Serve) on its own connection, as a separate process would, and
// stops it at cleanup.
func Serve[X, O any, S interface{ Stop() error }](tb testing.TB, url string, serve func(context.Context, *nats.Conn, string, X, O) (S, error), name string, x X, opts O) S {
	tb.Helper()
	s, err := serve(context.Background(), Connect(tb, url), name, x, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Stop() })
	return s
}

// Dial dials name with dial(ctx, nc, name, opts) (a protocol package's
// Dial) on its own connection, within 10 s.
func Dial[O, C any](tb testing.TB, url string, dial func(context.Context, *nats.Conn, string, O) (C, error), name string, opts O) C {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := dial(ctx, Connect(tb, url), name, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Eventually polls cond until it holds, failing the test if it does not
// within the given time.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("not within %s: %s", within, what)
		}
		<-time.After(2 * time.Millisecond) // a poll interval, not a guess at how long cond takes
	}
}
