// Package fanout runs independent work items on every core: the batch
// loops of the world models, where each imagined episode is stepped or
// perceived on its own.
package fanout

import (
	"context"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Each runs fn(0..n-1) on up to GOMAXPROCS goroutines, each index once. It
// stops handing out indices at the first error or when ctx ends, and
// returns that error.
func Each(ctx context.Context, n int, fn func(i int) error) error {
	return EachWith(ctx, n, func() struct{} { return struct{}{} }, func(_ struct{}, i int) error { return fn(i) })
}

// EachWith is Each with per-goroutine state: every goroutine makes its own
// W with mk (scratch buffers, network forwards) and passes it to fn.
func EachWith[W any](ctx context.Context, n int, mk func() W, fn func(w W, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	var next atomic.Int64
	for range min(n, runtime.GOMAXPROCS(0)) {
		g.Go(func() error {
			w := mk()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := fn(w, i); err != nil {
					return err
				}
			}
		})
	}
	return g.Wait()
}
