package dnnl

import (
	"errors"
	"testing"
)

type fakeNet struct {
	batch  int
	closed *int
}

func (f fakeNet) Close() error { *f.closed++; return nil }

// The pool hands back networks by batch size, frees the idle ones on
// Close and frees any put back afterwards.
func TestPool(t *testing.T) {
	var p Pool[fakeNet]
	closed := 0
	if _, ok, err := p.Get(2); ok || err != nil {
		t.Fatalf("empty pool: ok %v err %v", ok, err)
	}
	p.Put(2, fakeNet{2, &closed})
	p.Put(4, fakeNet{4, &closed})
	if _, ok, _ := p.Get(3); ok {
		t.Fatal("a network of another batch size was handed out")
	}
	v, ok, err := p.Get(2)
	if !ok || err != nil || v.batch != 2 {
		t.Fatalf("Get(2) = %+v, %v, %v", v, ok, err)
	}
	if err := p.Close(); err != nil || closed != 1 || !p.Closed() {
		t.Fatalf("Close: err %v, %d closed (want the 1 idle)", err, closed)
	}
	if err := p.Close(); err != nil || closed != 1 {
		t.Fatalf("second Close: err %v, %d closed", err, closed)
	}
	p.Put(2, v)
	if closed != 2 {
		t.Fatalf("a network put back after Close was not freed (%d closed)", closed)
	}
	if _, _, err := p.Get(2); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
}
