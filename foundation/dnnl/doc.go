// Package dnnl runs float32 neural-network inference on the CPU through
// oneDNN (Debian's libdnnl 2.6, its C API) via cgo: convolutions with fused
// post-ops, reorders between memory layouts, nearest resampling and inner
// products — what dreamrank's networks need, nothing more.
//
// The model: an Engine (the CPU engine and one stream) creates Ops, each a
// oneDNN primitive descriptor for fixed shapes. Descs given with tag Any let
// oneDNN pick its blocked layouts (e.g. 16 channels interleaved per pixel on
// AVX-512); an Op's chosen Src, Weights and Dst tell the caller what to
// allocate, and Reorder converts at a network's edges. A Plan binds Ops to
// Memory once (the primitives and their argument arrays live in C memory)
// and Run executes them in order: nothing is allocated per run, by Go or by
// this package.
//
// Memory is allocated by oneDNN (aligned, padding zeroed), never in Go:
// cgo's rules forbid C keeping Go pointers between calls, and a memory
// object keeps its buffer. Float32s is a Go view of it for filling inputs
// and reading outputs; it is valid until the Memory is closed.
//
// Threads: Debian's oneDNN runs on OpenMP (libgomp) with one thread per
// core (OMP_NUM_THREADS overrides it; read when the process starts). Every
// Plan.Run executes on one OS thread, locked and owned by this package:
// one run at a time, process-wide, each using all cores. Why: an OpenMP
// team belongs to the thread that starts it, so runs from arbitrary Go
// threads would each start a team of every core (oversubscribing the
// machine when two overlap, and leaving idle teams and per-thread scratch
// buffers behind on every thread Go ever used); one owner thread keeps one
// warm team. Go code of other goroutines (preparing the next inputs) still
// runs meanwhile on the cores OpenMP leaves, and a goroutine waiting for
// its run holds no core. OpenBLAS's own threads are separate: callers
// should not overlap OpenBLAS-heavy work with runs if they want each at
// full speed.
//
// Every oneDNN status is checked; failures are *StatusError values naming
// the op and the call, matching ErrUnimplemented (no implementation for
// these shapes and layouts), ErrInvalidArguments, ErrOutOfMemory or
// ErrFailed with errors.Is. C resources are freed by Close methods (the
// engine last); using a closed value returns ErrClosed.
//
// Build requirements: cgo and Debian's libdnnl-dev (make setup installs
// it); without its header the build stops with a message saying so.
package dnnl
