package fanout

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestEach(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name    string
		n       int
		failAt  int // -1: none
		wantErr error
	}{
		{"none", 0, -1, nil},
		{"one", 1, -1, nil},
		{"many", 1000, -1, nil},
		{"an error stops it", 1000, 10, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := make([]atomic.Int32, tt.n)
			err := Each(context.Background(), tt.n, func(i int) error {
				seen[i].Add(1)
				if i == tt.failAt {
					return errBoom
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			for i := range seen {
				if c := seen[i].Load(); c > 1 || (tt.wantErr == nil && c != 1) {
					t.Fatalf("index %d ran %d times", i, c)
				}
			}
		})
	}
}

func TestEachWithStateAndCancel(t *testing.T) {
	var made atomic.Int32
	var sum atomic.Int64
	err := EachWith(context.Background(), 100, func() *int { made.Add(1); return new(int) }, func(w *int, i int) error {
		*w += i // per-goroutine state: no race
		sum.Add(int64(i))
		return nil
	})
	if err != nil || sum.Load() != 4950 || made.Load() < 1 {
		t.Fatalf("err %v, sum %d, %d states", err, sum.Load(), made.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := 0
	if err := Each(ctx, 10, func(int) error { ran++; return nil }); !errors.Is(err, context.Canceled) || ran != 0 {
		t.Fatalf("cancelled: error %v, %d ran", err, ran)
	}
}
