package dnnl

/*
#cgo LDFLAGS: -ldnnl
#include "onednn.h"
*/
import "C"

import (
	"errors"
	"fmt"
)

// Sentinel errors; every *StatusError matches one of the first four.
var (
	// ErrUnimplemented: oneDNN has no implementation for these shapes,
	// layouts or post-ops on this CPU.
	ErrUnimplemented    = errors.New("dnnl: unimplemented")
	ErrInvalidArguments = errors.New("dnnl: invalid arguments")
	ErrOutOfMemory      = errors.New("dnnl: out of memory")
	ErrFailed           = errors.New("dnnl: failed")
	// ErrClosed: the value was closed.
	ErrClosed = errors.New("dnnl: use after Close")
)

// StatusError is a failed oneDNN call.
type StatusError struct {
	Op     string // what this package was doing, e.g. the primitive's name
	Call   string // the C function
	Status int    // its dnnl_status_t
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("dnnl: %s: %s: %s", e.Op, e.Call, C.GoString(C.dnnl_status2str(C.dnnl_status_t(e.Status))))
}

// Unwrap returns the sentinel for the status.
func (e *StatusError) Unwrap() error {
	switch C.dnnl_status_t(e.Status) {
	case C.dnnl_unimplemented:
		return ErrUnimplemented
	case C.dnnl_invalid_arguments:
		return ErrInvalidArguments
	case C.dnnl_out_of_memory:
		return ErrOutOfMemory
	}
	return ErrFailed
}

// check turns a status into nil or a *StatusError.
func check(st C.dnnl_status_t, op, call string) error {
	if st == C.dnnl_success {
		return nil
	}
	return &StatusError{Op: op, Call: call, Status: int(st)}
}

// Version is the oneDNN library's version, e.g. "2.6.3".
func Version() string {
	v := C.dnnl_version()
	return fmt.Sprintf("%d.%d.%d", v.major, v.minor, v.patch)
}
