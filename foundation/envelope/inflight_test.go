package envelope

import (
	"errors"
	"sync/atomic"
	"testing"

	"dreamrank/foundation/errcode"
)

func TestInflightRefusesAfterStopAndWaits(t *testing.T) {
	var f Inflight
	var ran atomic.Int32
	release := make(chan struct{})
	if !f.Go(func() { <-release; ran.Add(1) }) {
		t.Fatal("refused before Stop")
	}
	if !f.Stop() || f.Stop() {
		t.Fatal("Stop reports its first call only")
	}
	if f.Go(func() { ran.Add(1) }) {
		t.Fatal("accepted work after Stop")
	}
	close(release)
	f.Wait()
	if ran.Load() != 1 {
		t.Fatalf("%d jobs ran, want the one in flight", ran.Load())
	}
}

func TestGuardTurnsPanicsIntoInternalErrors(t *testing.T) {
	out, err := Guard(func() ([]byte, error) { return []byte("ok"), nil })
	if err != nil || string(out) != "ok" {
		t.Fatalf("%q, %v", out, err)
	}
	_, err = Guard(func() ([]byte, error) { panic("boom") })
	var e errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.Internal {
		t.Fatalf("panic gave %v", err)
	}
}
