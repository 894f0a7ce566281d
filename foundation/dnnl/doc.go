// Package dnnl runs float32 neural-network inference on the CPU through
// oneDNN (Debian's libdnnl 2.6, its C API) via cgo: convolutions,
// transposed convolutions and inner products with fused post-ops (bias,
// leaky ReLU or swish, sum for residual adds), softmax, reorders between
// memory layouts (strided views included) and nearest resampling — what dreamrank's networks need, nothing
// more.
//
// The model: an Engine (the CPU engine and one stream) creates Ops, each a
// oneDNN primitive descriptor for fixed shapes. Descs given with tag Any let
// oneDNN pick its blocked layouts (e.g. 16 channels interleaved per pixel on
// AVX-512); an Op's chosen Src, Weights and Dst tell the caller what to
// allocate, and Reorder converts at a network's edges. A Plan binds Ops to
// Memory once (the primitives and their argument arrays live in C memory)
// and Run executes them in order: nothing is allocated per run, by Go or by
// this package. Builder assembles a network from these: each layer in the
// layouts oneDNN picks (channels-last kept where oneDNN has kernels for
// it), reorders only where two layers disagree, and a second plan moving
// weights from plain staging buffers into the layers' layouts.
//
// Memory is allocated by oneDNN (aligned, padding zeroed), never in Go:
// cgo's rules forbid C keeping Go pointers between calls, and a memory
// object keeps its buffer. Float32s is a Go view of it for filling inputs
// and reading outputs; it is valid until the Memory is closed.
//
// Threads: Debian's oneDNN runs on OpenMP (libgomp). Every Plan.Run
// executes on one of Runners OS threads owned by this package (one per
// core Go uses), each locked and limited to a single OpenMP thread, so a
// run computes on one core and runs of different plans go in parallel:
// callers spread independent work (groups of a batch) over Runners
// concurrent runs. Why not one run over all cores: OpenMP's teams meet at
// a barrier after every primitive, spinning, and on a shared machine a
// descheduled team member stalls the others a scheduler slice each time.
// Measured on the project's 2-core VM with other jobs running (load 8),
// the world model's 13-primitive step at batch 1: 88-216 frames/s on two
// OpenMP threads, 549 with OMP_WAIT_POLICY=passive, 876 on one thread.
// Independent runs share nothing and never wait for each other. Runner
// threads sleep in the Go scheduler when idle (no spinning), so they cost
// nothing between runs; OpenBLAS keeps its own threads.
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
